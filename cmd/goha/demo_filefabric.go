package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/labmariadb"
)

// runFileFabricDemo plays the File Fabric stack on a lab named name: two
// MariaDB servers replicating from each other with one writer
// (ocf:goha:mysql, semi-synchronous), the DB VIP with the writer, a client
// committing numbered rows through the VIP; the writer's node loses power,
// the other server takes over, and every acknowledged row is checked. The
// lab stays up.
func runFileFabricDemo(ctx context.Context, w io.Writer, name string) error {
	say := progress(w)
	say("== bringing up lab %s: n1 and n2 with MariaDB, n3 for quorum, fencing by fence_goha_lab", name)
	defer labmariadb.RemoveSharedTemplate()
	l, err := lab.Up(ctx, lab.Config{Name: name, Nodes: 3, OCFAgents: []string{"vip", "mysql"},
		Hooks: []lab.NodeHook{labmariadb.ReplicationHook()}, OnlineTimeout: 2 * time.Minute, Logf: say})
	if err != nil {
		return err
	}
	vip, err := l.VIP(0)
	if err != nil {
		return err
	}
	if _, err := l.Client(ctx, "c1"); err != nil {
		return err
	}
	stack := labmariadb.ReplicationStack{Agent: labmariadb.AgentMySQLGoha, SemiSync: true, VIP: vip, Quorum: "n3", VIPName: "vip"}
	cmds, err := stack.Commands(l)
	if err != nil {
		return err
	}
	say("== creating the stack: the replicated pair (ocf:goha:mysql, semi_sync) and the DB VIP %s with its writer", vip)
	for _, args := range cmds {
		say("$ pcs %s", strings.Join(args, " "))
		if out, err := l.Exec(ctx, "n1", append([]string{"pcs"}, args...)...); err != nil {
			return fmt.Errorf("pcs %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	writer, err := demoWriter(ctx, l, "", say)
	if err != nil {
		return err
	}
	if err := demoCrmMon(ctx, w, l, writer); err != nil {
		return err
	}

	app, err := labmariadb.NewAddressWriter(ctx, l, "c1", "app", vip)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		return err
	}
	if err := app.WaitAcked(ctx, 100); err != nil {
		return err
	}
	say("client c1 commits numbered rows through %s: %d acknowledged so far", vip, len(app.Acked()))

	say("== crashing %s, the writer's node (power cut: every process killed, link down)", writer)
	begin := time.Now()
	if err := l.Crash(ctx, writer); err != nil {
		return err
	}
	acked := make(chan time.Duration, 1)
	go func() {
		if app.WaitAcked(ctx, 1) == nil {
			acked <- time.Since(begin)
		}
		close(acked)
	}()
	now, err := demoWriter(ctx, l, writer, say)
	if err != nil {
		return err
	}
	d, ok := <-acked
	if !ok {
		return fmt.Errorf("no write through %s was acknowledged after the crash of %s", vip, writer)
	}
	say("Pacemaker fenced %s and promoted %s; the VIP followed it", writer, now)
	say("the client's first write through %s was acknowledged %s after the crash", vip, d.Round(100*time.Millisecond))
	if err := demoCrmMon(ctx, w, l, now); err != nil {
		return err
	}
	if err := app.WaitAcked(ctx, 50); err != nil {
		return err
	}
	st := app.Stop()
	say("client c1: %s", st)
	if _, err := labmariadb.VerifyReplicated(ctx, l, []string{now}, app.Acked()); err != nil {
		return fmt.Errorf("after the failover: %w", err)
	}
	say("every one of the %d acknowledged rows is on %s: semi-synchronous replication and a promote that", len(app.Acked()), now)
	say("waits for the relay log lost none of them")
	say("%s reboots by itself and rejoins as a replica of %s; it does not take the writer role back.", writer, now)
	demoLookAround(say, name, "n1 -- mariadb -e 'SELECT COUNT(*) FROM test.seq'")
	return nil
}

// demoWriter waits until one database node other than not is promoted and
// the VIP runs there, and returns it.
func demoWriter(ctx context.Context, l *lab.Lab, not string, say func(string, ...any)) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	st, err := labmariadb.WaitRoles(wctx, l, l.Nodes(), "the writer", func(c lab.CloneState) bool {
		p := c.Promoted()
		return len(p) == 1 && p[0] != not
	})
	if err != nil {
		return "", err
	}
	writer := st.Promoted()[0]
	holder, err := demoHolder(wctx, l, not, say)
	if err != nil {
		return "", err
	}
	if holder != writer {
		return "", fmt.Errorf("the VIP runs on %s, the writer is %s", holder, writer)
	}
	say("%s is the writer and holds the VIP", writer)
	return writer, nil
}
