package mariadb

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Credentials is who an agent connects to a server as.
type Credentials struct {
	User     string
	Password string
}

// LoadCredentials reads the client sections of defaultsFile (when given),
// then applies user when explicit or when the file names none.
func LoadCredentials(defaultsFile, user string, explicit bool) (Credentials, error) {
	var c Credentials
	if defaultsFile != "" {
		b, err := os.ReadFile(defaultsFile)
		if err != nil {
			return c, fmt.Errorf("read credentials: %w", err)
		}
		c = ParseClientSection(b)
	}
	if explicit || c.User == "" {
		c.User = user
	}
	return c, nil
}

// ParseClientSection reads user and password from the [client] section (and
// [mysql] or [mariadb-client], which the mysql client also reads) of a
// my.cnf-style file. Later sections override earlier ones, as in the client.
func ParseClientSection(b []byte) Credentials {
	var c Credentials
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		if section != "client" && section != "mysql" && section != "mariadb-client" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.ReplaceAll(strings.TrimSpace(key), "-", "_")
		val = unquote(strings.TrimSpace(val))
		switch key {
		case "user":
			c.User = val
		case "password":
			c.Password = val
		}
	}
	return c
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
