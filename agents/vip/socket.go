package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// wire sends announcements and probes on a link.
type wire interface {
	// Announcer opens a sender of announcements of ip on link.
	Announcer(link Link, ip netip.Addr) (announcer, error)
	// Probe asks the link who has ip for up to wait (bounded by ctx) and
	// returns the hardware address of another host that answered, or nil.
	Probe(ctx context.Context, link Link, ip netip.Addr, wait time.Duration) (net.HardwareAddr, error)
}

// announcer sends one announcement per Send.
type announcer interface {
	Send() error
	Close() error
}

// packetWire implements wire with AF_PACKET datagram sockets: the kernel
// adds the Ethernet header, the agent builds the ARP or IPv6 packet.
type packetWire struct{}

// packetConn is an AF_PACKET SOCK_DGRAM socket bound to one interface and
// one EtherType, with read deadlines from the runtime poller.
type packetConn struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	proto   uint16
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// listenPacket opens a packet socket on ifindex for EtherType proto. filter,
// when set, is attached before the socket is bound, so nothing unfiltered is
// ever queued.
func listenPacket(ifindex int, proto uint16, filter []bpf.Instruction) (*packetConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	fail := func(what string, err error) (*packetConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if filter != nil {
		raw, err := bpf.Assemble(filter)
		if err != nil {
			return fail("assemble packet filter", err)
		}
		prog := make([]unix.SockFilter, len(raw))
		for i, ins := range raw {
			prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
		}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
			return fail("attach packet filter", err)
		}
	}
	// Our own frames are not answers; kernels before 4.20 lack the option
	// and the callers also drop frames from our own address.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
		return fail("bind packet socket", err)
	}
	f := os.NewFile(uintptr(fd), "packet")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	return &packetConn{f: f, rc: rc, ifindex: ifindex, proto: proto}, nil
}

func (c *packetConn) Close() error { return c.f.Close() }

func (c *packetConn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// WriteTo sends one packet to the Ethernet address dst.
func (c *packetConn) WriteTo(b []byte, dst net.HardwareAddr) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(c.proto), Ifindex: c.ifindex, Halen: uint8(len(dst))}
	copy(sa.Addr[:], dst)
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, sa)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("send on interface %d: %w", c.ifindex, err)
	}
	return nil
}

// ReadFrom receives one packet and the Ethernet address it came from.
func (c *packetConn) ReadFrom(b []byte) (int, net.HardwareAddr, error) {
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), b, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, nil, err
	}
	var src net.HardwareAddr
	if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
		return 0, nil, errOutgoing
	} else if ok && int(ll.Halen) <= len(ll.Addr) {
		src = net.HardwareAddr(append([]byte(nil), ll.Addr[:ll.Halen]...))
	}
	return n, src, nil
}

// errOutgoing marks a frame this host sent, which readers skip.
var errOutgoing = errors.New("outgoing frame")

// naFilter passes IPv6 packets carrying ICMPv6 type 136 (neighbour
// advertisement) with no extension header: all the probe listens to.
var naFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 6, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 3},
	bpf.LoadAbsolute{Off: ipv6HdrLen, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 136, SkipTrue: 1},
	bpf.RetConstant{Val: 0xffff},
	bpf.RetConstant{Val: 0},
}

// dropAll lets nothing in: announcers only send.
var dropAll = []bpf.Instruction{bpf.RetConstant{Val: 0}}

type packetAnnouncer struct {
	c   *packetConn
	pkt []byte
	dst net.HardwareAddr
}

func (a *packetAnnouncer) Send() error  { return a.c.WriteTo(a.pkt, a.dst) }
func (a *packetAnnouncer) Close() error { return a.c.Close() }

// Announcer builds the gratuitous ARP (IPv4) or unsolicited neighbour
// advertisement (IPv6) once and sends it on every Send.
func (packetWire) Announcer(link Link, ip netip.Addr) (announcer, error) {
	if link.MAC == nil {
		return nil, fmt.Errorf("interface %s has no Ethernet address to announce", link.Name)
	}
	a := &packetAnnouncer{}
	var proto uint16
	if ip.Is4() {
		proto, a.pkt, a.dst = etherTypeARP, garp(ip, link.MAC), ethBroadcast
	} else {
		pkt, err := unsolicitedNA(ip, link.MAC)
		if err != nil {
			return nil, err
		}
		proto, a.pkt, a.dst = etherTypeV6, pkt, multicastMAC(allNodes)
	}
	c, err := listenPacket(link.Index, proto, dropAll)
	if err != nil {
		return nil, err
	}
	a.c = c
	return a, nil
}

// probeRounds is how many probes are sent, evenly spread over the wait.
const probeRounds = 3

// Probe sends an ARP probe (IPv4) or a duplicate-address-detection
// solicitation (IPv6) for ip, probeRounds times over wait, and returns the
// first other host's hardware address that claims ip.
func (packetWire) Probe(ctx context.Context, link Link, ip netip.Addr, wait time.Duration) (net.HardwareAddr, error) {
	if link.MAC == nil {
		return nil, fmt.Errorf("interface %s has no Ethernet address to probe from", link.Name)
	}
	var (
		c     *packetConn
		err   error
		pkt   []byte
		dst   net.HardwareAddr
		owner func(b []byte, src net.HardwareAddr) (net.HardwareAddr, bool)
	)
	if ip.Is4() {
		c, err = listenPacket(link.Index, etherTypeARP, nil)
		pkt, dst = arpProbe(ip, link.MAC), ethBroadcast
		owner = func(b []byte, _ net.HardwareAddr) (net.HardwareAddr, bool) {
			p, ok := parseARP(b)
			if !ok {
				return nil, false
			}
			return arpOwner(p, ip, link.MAC)
		}
	} else {
		c, err = listenPacket(link.Index, etherTypeV6, naFilter)
		if err == nil {
			pkt, dst, err = dadSolicitation(ip)
		}
		owner = func(b []byte, src net.HardwareAddr) (net.HardwareAddr, bool) {
			na, ok := parseNA(b)
			if !ok {
				return nil, false
			}
			return naOwner(na, src, ip, link.MAC)
		}
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	defer c.Close()

	end := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	step := wait / probeRounds
	buf := make([]byte, 1500)
	for round := 0; round < probeRounds; round++ {
		if err := c.WriteTo(pkt, dst); err != nil {
			return nil, err
		}
		next := time.Now().Add(step)
		if round == probeRounds-1 || next.After(end) {
			next = end
		}
		if mac, err := readOwner(c, buf, next, owner); mac != nil || err != nil {
			return mac, err
		}
		if !time.Now().Before(end) {
			break
		}
	}
	return nil, nil
}

// readOwner reads until until and returns the first owner found.
func readOwner(c *packetConn, buf []byte, until time.Time, owner func([]byte, net.HardwareAddr) (net.HardwareAddr, bool)) (net.HardwareAddr, error) {
	if err := c.SetReadDeadline(until); err != nil {
		return nil, fmt.Errorf("set read deadline: %w", err)
	}
	for {
		n, src, err := c.ReadFrom(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, nil
		case errors.Is(err, errOutgoing):
			continue
		case err != nil:
			return nil, fmt.Errorf("read from interface %d: %w", c.ifindex, err)
		}
		if mac, ok := owner(buf[:n], src); ok {
			return mac, nil
		}
	}
}
