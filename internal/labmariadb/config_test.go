package labmariadb

import (
	"net/netip"
	"strings"
	"testing"
)

// TestMyCnf checks the settings Galera needs and the per-node identity.
func TestMyCnf(t *testing.T) {
	cnf := MyCnf("n2", netip.MustParseAddr("10.213.7.2"))
	for _, want := range []string{
		"wsrep_on = ON",
		"wsrep_provider = /usr/lib/galera/libgalera_smm.so",
		"wsrep_cluster_address = gcomm://",
		"wsrep_node_address = 10.213.7.2",
		"wsrep_node_name = n2",
		"wsrep_sst_method = rsync",
		"binlog_format = ROW",
		"innodb_autoinc_lock_mode = 2",
		"default_storage_engine = InnoDB",
		"bind-address = 0.0.0.0",
		"innodb_buffer_pool_size = 32M",
		"performance_schema = OFF",
		"skip-name-resolve",
		"log_error = /var/log/mysql/error.log",
	} {
		if !strings.Contains(cnf, "\n"+want+"\n") {
			t.Errorf("my.cnf lacks the line %q:\n%s", want, cnf)
		}
	}
	if strings.Contains(cnf, "mysqld_safe") {
		t.Errorf("my.cnf has a mysqld_safe section:\n%s", cnf)
	}
}

func TestCheckCnf(t *testing.T) {
	got := CheckCnf("s3cret")
	want := "[client]\nuser = goha_check\npassword = s3cret\n"
	if got != want {
		t.Errorf("CheckCnf = %q, want %q", got, want)
	}
}
