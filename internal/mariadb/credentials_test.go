package mariadb

import "testing"

func TestParseClientSection(t *testing.T) {
	in := "[mysqld]\nuser = mysql\n[client]\nuser = check\npassword = \"s3cr et\"\n# comment\n[mysqldump]\npassword=no\n[mariadb-client]\npassword='final'\n"
	if got := ParseClientSection([]byte(in)); got != (Credentials{User: "check", Password: "final"}) {
		t.Errorf("got %+v", got)
	}
}
