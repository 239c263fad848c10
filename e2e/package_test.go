package e2e

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// The package test installs the goha .deb on this machine, so it runs only
// when asked to (make package-test sets GOHA_PACKAGE_TEST=1) and as root.
// It uses the packages make deb and make rpm left in build/pkg.

const (
	pkgOCFDir = "/usr/lib/ocf/resource.d/goha"
	pkgGoha   = "/usr/sbin/goha"
	// pkgRetired is an agent the older test package has and the current one
	// does not: the upgrade must remove its symlink.
	pkgRetired = "retired-agent"
	// pkgOldVersion is below any real release.
	pkgOldVersion = "0.0.1"
)

// pkgEnv is what the subtests share: the repository, the packages, and the
// agents the current build carries.
type pkgEnv struct {
	root    string // repository root
	deb     string // build/pkg/goha_<version>_amd64.deb
	rpm     string // build/pkg/goha-<version>-1.x86_64.rpm
	version string // the .deb's version
	agents  []string
}

func TestPackage(t *testing.T) {
	if os.Getenv("GOHA_PACKAGE_TEST") != "1" {
		t.Skip("installs the goha package system-wide: set GOHA_PACKAGE_TEST=1 (make package-test does) to run it")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing packages needs root")
	}
	var missing []string
	for _, tool := range []string{"dpkg", "dpkg-deb", "lintian", "man", "ip", "ocf-tester", "pcs", "crm_resource", "cibadmin", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("missing %s (make deps installs them)", strings.Join(missing, ", "))
	}

	e := pkgFind(t)
	pkgPurge(t) // a previous run may have been interrupted
	if _, err := os.Lstat(pkgOCFDir); err == nil {
		t.Fatalf("%s exists without the goha package installed: remove it first, the removal check needs a clean slate", pkgOCFDir)
	}
	t.Cleanup(func() { pkgPurge(t) })

	t.Run("lintian", e.lintian)
	t.Run("rpm", e.rpmInstallUpgradeErase)
	if !t.Run("install-and-upgrade", e.installAndUpgrade) {
		t.FailNow()
	}
	t.Run("files", e.files)
	t.Run("copyright", e.copyright)
	t.Run("man", e.man)
	t.Run("crm-metadata", e.crmMetadata)
	t.Run("pcs-describe", e.pcsDescribe)
	t.Run("pcs-create", e.pcsCreate)
	t.Run("crm-validate", e.crmValidate)
	t.Run("ocf-tester", e.ocfTester)
	t.Run("remove", e.remove)
}

// pkgFind locates the repository and the packages built from it.
func pkgFind(t *testing.T) *pkgEnv {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	one := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(root, "build", "pkg", pattern))
		if len(m) != 1 {
			t.Fatalf("want one build/pkg/%s, found %d: run make deb rpm first", pattern, len(m))
		}
		return m[0]
	}
	e := &pkgEnv{root: root, deb: one("goha_*.deb"), rpm: one("goha-*.rpm")}
	e.version = strings.TrimSpace(pkgMustRun(t, "dpkg-deb", "--field", e.deb, "Version"))
	for _, l := range strings.Split(pkgMustRun(t, filepath.Join(root, "bin", "goha"), "agents"), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			e.agents = append(e.agents, f[0])
		}
	}
	if len(e.agents) == 0 {
		t.Fatal("bin/goha agents lists no agents")
	}
	return e
}

func (e *pkgEnv) lintian(t *testing.T) {
	out, code := pkgRun(t, 5*time.Minute, "lintian", "--fail-on", "error", e.deb)
	t.Logf("lintian:\n%s", out)
	if code != 0 {
		t.Errorf("lintian --fail-on error exited %d", code)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "E: ") {
			t.Errorf("lintian error: %s", l)
		}
	}
}

// oldPackage builds version 0.0.1 of the package with one more agent
// symlink, from the configuration make deb generated.
func (e *pkgEnv) oldPackage(t *testing.T, packager string) string {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(e.root, "build", "nfpm.yaml"))
	if err != nil {
		t.Fatalf("%v: run make deb first", err)
	}
	versionLine := regexp.MustCompile(`(?m)^version: .*$`)
	if !versionLine.Match(conf) {
		t.Fatal("build/nfpm.yaml has no version line")
	}
	conf = versionLine.ReplaceAll(conf, []byte(`version: "`+pkgOldVersion+`"`))
	// contents is the last key: one more list item extends it.
	conf = append(conf, fmt.Sprintf("  - src: ../../../../sbin/goha\n    dst: %s/%s\n    type: symlink\n", pkgOCFDir, pkgRetired)...)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nfpm.yaml")
	if err := os.WriteFile(cfg, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(e.root, ".tools", "nfpm"), "package", "--config", cfg, "--packager", packager, "--target", dir+"/")
	cmd.Dir = e.root // the configuration's sources are relative to the repository
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm package %s: %v\n%s", packager, err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "goha*."+packager))
	if len(m) != 1 {
		t.Fatalf("nfpm left %d %s packages in %s", len(m), packager, dir)
	}
	return m[0]
}

// installAndUpgrade installs the older package, checks its extra agent
// link, then upgrades to the current one, which must remove that link.
func (e *pkgEnv) installAndUpgrade(t *testing.T) {
	old := e.oldPackage(t, "deb")
	pkgMustRun(t, "dpkg", "--install", old)
	if got := pkgInstalledVersion(t); got != pkgOldVersion {
		t.Fatalf("installed version %q, want %q", got, pkgOldVersion)
	}
	if target, err := filepath.EvalSymlinks(filepath.Join(pkgOCFDir, pkgRetired)); err != nil || target != pkgGoha {
		t.Fatalf("old package: %s/%s resolves to %q (%v), want %s", pkgOCFDir, pkgRetired, target, err, pkgGoha)
	}

	pkgMustRun(t, "dpkg", "--install", e.deb)
	if got := pkgInstalledVersion(t); got != e.version {
		t.Fatalf("after upgrade the installed version is %q, want %q", got, e.version)
	}
	if _, err := os.Lstat(filepath.Join(pkgOCFDir, pkgRetired)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the upgrade left the stale symlink %s/%s (%v)", pkgOCFDir, pkgRetired, err)
	}
}

// files checks what the installed package put on disk.
func (e *pkgEnv) files(t *testing.T) {
	if fi, err := os.Lstat(pkgGoha); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("%s: %v, mode %v; want a regular file, mode 0755", pkgGoha, err, fi.Mode())
	}
	out := pkgMustRun(t, pkgGoha, "version")
	if want := "goha " + e.version; strings.TrimSpace(out) != want {
		t.Errorf("goha version printed %q, want %q", strings.TrimSpace(out), want)
	}

	// Exactly one symlink per agent, each resolving to the program.
	entries, err := os.ReadDir(pkgOCFDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range entries {
		names = append(names, ent.Name())
		target, err := filepath.EvalSymlinks(filepath.Join(pkgOCFDir, ent.Name()))
		if ent.Type()&os.ModeSymlink == 0 || err != nil || target != pkgGoha {
			t.Errorf("%s/%s: type %v, resolves to %q (%v); want a symlink to %s", pkgOCFDir, ent.Name(), ent.Type(), target, err, pkgGoha)
		}
	}
	if !slices.Equal(names, e.agents) {
		t.Errorf("%s holds %v, want the agents %v", pkgOCFDir, names, e.agents)
	}
	if target, err := filepath.EvalSymlinks("/usr/sbin/fence_goha_lab"); err != nil || target != pkgGoha {
		t.Errorf("/usr/sbin/fence_goha_lab resolves to %q (%v), want %s", target, err, pkgGoha)
	}
	for _, f := range []string{"/usr/share/doc/goha/copyright", "/usr/share/doc/goha/changelog.gz", "/usr/share/man/man8/goha.8.gz"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}

	// dpkg owns every path the package test looks at.
	owned := pkgMustRun(t, "dpkg-query", "--listfiles", "goha")
	for _, a := range e.agents {
		if !slices.Contains(strings.Split(owned, "\n"), filepath.Join(pkgOCFDir, a)) {
			t.Errorf("dpkg -L goha does not list %s/%s", pkgOCFDir, a)
		}
	}
}

// copyright checks that the copyright file covers every module linked into
// the program: a new dependency needs its licence recorded.
func (e *pkgEnv) copyright(t *testing.T) {
	info, err := buildinfo.ReadFile(pkgGoha)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("/usr/share/doc/goha/copyright")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, l := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(l, "Files:"); ok {
			for _, f := range strings.Fields(rest) {
				covered[strings.TrimSuffix(f, "/*")] = true
			}
		}
	}
	if len(info.Deps) == 0 {
		t.Fatal("the program's build information lists no modules")
	}
	for _, d := range info.Deps {
		if !covered[d.Path] {
			t.Errorf("copyright has no Files: paragraph for %s %s", d.Path, d.Version)
		}
	}
}

func (e *pkgEnv) man(t *testing.T) {
	// fence_goha_lab.8.gz links to goha.8.gz, and man -w follows the link.
	pages := map[string]string{"goha": "/usr/share/man/man8/goha.8.gz", "fence_goha_lab": "/usr/share/man/man8/goha.8.gz"}
	for _, a := range e.agents {
		pages["ocf_goha_"+a] = "/usr/share/man/man7/ocf_goha_" + a + ".7.gz"
	}
	for page, want := range pages {
		if got := strings.TrimSpace(pkgMustRun(t, "man", "-w", page)); got != want {
			t.Errorf("man -w %s = %q, want %q", page, got, want)
		}
	}
	// Every parameter of every agent is documented in its page.
	for _, a := range e.agents {
		text := pkgManText(t, "ocf_goha_"+a)
		for _, p := range pkgMetadataParams(t, pkgMustRun(t, pkgGoha, "metadata", a)) {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(p.name) + `$`).MatchString(text) {
				t.Errorf("man ocf_goha_%s has no entry for parameter %s", a, p.name)
			}
		}
	}
}

// pkgManText renders an installed page as plain text, failing on warnings.
func pkgManText(t *testing.T, page string) string {
	t.Helper()
	cmd := exec.Command("man", "--warnings", "-P", "cat", page)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=100")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man %s: %v: %s", page, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man --warnings %s:\n%s", page, stderr.String())
	}
	// Drop overstrike bold and underline, should man keep them.
	return regexp.MustCompile(".\b").ReplaceAllString(stdout.String(), "")
}

// crmMetadata checks that Pacemaker reads, through the installed symlink,
// the declaration goha prints: same parameters, types, defaults, flags.
func (e *pkgEnv) crmMetadata(t *testing.T) {
	for _, a := range e.agents {
		want := pkgMetadataParams(t, pkgMustRun(t, pkgGoha, "metadata", a))
		got := pkgMetadataParams(t, pkgMustRun(t, "crm_resource", "--show-metadata", "ocf:goha:"+a))
		if !slices.Equal(got, want) {
			t.Errorf("crm_resource --show-metadata ocf:goha:%s parameters:\n got %+v\nwant %+v", a, got, want)
		}
	}
}

// pcsDescribe checks that pcs lists every parameter with its description
// and every default operation with its timeout. (pcs 0.11 does not print
// parameter defaults; crmMetadata compares those.)
func (e *pkgEnv) pcsDescribe(t *testing.T) {
	for _, a := range e.agents {
		md := pkgMustRun(t, pkgGoha, "metadata", a)
		out := pkgMustRun(t, "pcs", "resource", "describe", "ocf:goha:"+a)
		lines := strings.Split(out, "\n")
		for _, p := range pkgMetadataParams(t, md) {
			re := regexp.MustCompile(`^  ` + regexp.QuoteMeta(p.name) + `((?: \([^)]*\))*): (.*)$`)
			found := false
			for _, l := range lines {
				m := re.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				found = true
				if p.required != strings.Contains(m[1], "(required)") {
					t.Errorf("pcs describe ocf:goha:%s: %s flags %q, required=%v", a, p.name, m[1], p.required)
				}
				if pkgSquash(m[2]) != pkgSquash(p.long) {
					t.Errorf("pcs describe ocf:goha:%s: %s description\n got %q\nwant %q", a, p.name, pkgSquash(m[2]), pkgSquash(p.long))
				}
			}
			if !found {
				t.Errorf("pcs resource describe ocf:goha:%s does not list parameter %s:\n%s", a, p.name, out)
			}
		}
		for _, op := range pkgPCSOperations(out) {
			if !slices.ContainsFunc(pkgMetadataActions(t, md), func(m pkgMetaAction) bool {
				return m.name == op.name && m.timeout == op.opts["timeout"] && m.interval == op.opts["interval"]
			}) {
				t.Errorf("pcs describe ocf:goha:%s: default operation %s %v is not in the meta-data", a, op.name, op.opts)
			}
		}
	}
}

// pcsCreate creates a vip resource in a CIB file with pcs, which validates
// the parameters against the agent's meta-data.
func (e *pkgEnv) pcsCreate(t *testing.T) {
	cib := filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(cib, []byte(pkgMustRun(t, "cibadmin", "--empty")), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgMustRun(t, "pcs", "-f", cib, "resource", "create", "v", "ocf:goha:vip", "ip=192.0.2.10", "cidr_netmask=24")
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(cib); err != nil {
		t.Fatal(err)
	}
	prim := doc.FindElement("//primitive[@id='v']")
	if prim == nil {
		t.Fatalf("pcs wrote no primitive v to the CIB")
	}
	for attr, want := range map[string]string{"class": "ocf", "provider": "goha", "type": "vip"} {
		if got := prim.SelectAttrValue(attr, ""); got != want {
			t.Errorf("primitive v %s=%q, want %q", attr, got, want)
		}
	}
	if nv := prim.FindElement(".//nvpair[@name='ip']"); nv == nil || nv.SelectAttrValue("value", "") != "192.0.2.10" {
		t.Errorf("primitive v has no ip=192.0.2.10 instance attribute")
	}
	// pcs rejects a parameter the agent does not declare.
	if out, code := pkgRun(t, time.Minute, "pcs", "-f", cib, "resource", "create", "w", "ocf:goha:vip", "ip=192.0.2.11", "no_such_param=1"); code == 0 {
		t.Errorf("pcs accepted an undeclared parameter:\n%s", out)
	}
}

// crmValidate runs validate-all through Pacemaker on bad configurations:
// each must fail with OCF_ERR_CONFIGURED and a reason naming the parameter.
func (e *pkgEnv) crmValidate(t *testing.T) {
	ns := pkgNewNetns(t)
	tests := []struct {
		name    string
		options []string
		inNetns bool
		code    int
		param   string // the parameter the reason must name
	}{
		{"bad ip", []string{"ip=300.1.1.1", "cidr_netmask=24", "nic=lo"}, false, 6, "ip"},
		{"missing ip", []string{"cidr_netmask=24", "nic=lo"}, false, 6, "ip"},
		{"unknown nic", []string{"ip=192.0.2.10", "cidr_netmask=24", "nic=gohanosuch0"}, false, 6, "nic"},
		{"netmask out of range", []string{"ip=192.0.2.10", "cidr_netmask=33", "nic=lo"}, false, 6, "cidr_netmask"},
		{"good ipv4", []string{"ip=10.77.0.10", "cidr_netmask=24", "nic=" + ns.nic}, true, 0, ""},
		{"good ipv6", []string{"ip=2001:db8:77::10", "cidr_netmask=64", "nic=" + ns.nic}, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"crm_resource", "--validate", "--output-as=xml", "--class", "ocf", "--provider", "goha", "--agent", "vip"}
			for _, o := range tt.options {
				args = append(args, "--option", o)
			}
			if tt.inNetns {
				args = append([]string{"ip", "netns", "exec", ns.name}, args...)
			}
			out, code := pkgRun(t, time.Minute, args[0], args[1:]...)
			if code != tt.code {
				t.Errorf("crm_resource exited %d, want %d:\n%s", code, tt.code, out)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromString(out); err != nil {
				t.Fatalf("crm_resource --output-as=xml: %v\n%s", err, out)
			}
			st := doc.FindElement("//agent-status")
			if st == nil {
				t.Fatalf("no agent-status in:\n%s", out)
			}
			if got := st.SelectAttrValue("code", ""); got != strconv.Itoa(tt.code) {
				t.Errorf("agent status %s, want %d", got, tt.code)
			}
			reason := st.SelectAttrValue("reason", "")
			t.Logf("exit %d, reason %q", code, reason)
			if tt.param != "" && !regexp.MustCompile(`\bparameter `+regexp.QuoteMeta(tt.param)+`\b`).MatchString(reason) {
				t.Errorf("exit reason %q does not name parameter %s", reason, tt.param)
			}
		})
	}
}

// ocfTester runs ocf-tester on the installed agent inside a network
// namespace, for an IPv4 and an IPv6 address, and checks the address is
// gone afterwards.
func (e *pkgEnv) ocfTester(t *testing.T) {
	ns := pkgNewNetns(t)
	for _, tt := range []struct{ ip, mask string }{{"10.77.0.10", "24"}, {"2001:db8:77::10", "64"}} {
		t.Run(tt.ip, func(t *testing.T) {
			out, code := pkgRun(t, 3*time.Minute, "ip", "netns", "exec", ns.name, "ocf-tester", "-n", "v",
				"-o", "ip="+tt.ip, "-o", "cidr_netmask="+tt.mask, "-o", "nic="+ns.nic, pkgOCFDir+"/vip")
			if code != 0 || !strings.Contains(out, "passed all tests") {
				t.Errorf("ocf-tester exited %d:\n%s", code, out)
			}
			addrs := pkgMustRun(t, "ip", "-n", ns.name, "-o", "addr", "show", "dev", ns.nic)
			if strings.Contains(addrs, " "+tt.ip+"/") {
				t.Errorf("%s is still on %s after ocf-tester's final stop:\n%s", tt.ip, ns.nic, addrs)
			}
		})
	}
}

// remove uninstalls and purges the package: nothing of it may remain.
func (e *pkgEnv) remove(t *testing.T) {
	pkgMustRun(t, "dpkg", "--remove", "goha")
	for _, p := range []string{pkgGoha, "/usr/sbin/fence_goha_lab", pkgOCFDir, "/usr/share/man/man8/goha.8.gz"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s remains after dpkg --remove (%v)", p, err)
		}
	}
	for _, a := range e.agents {
		if _, err := os.Lstat("/usr/share/man/man7/ocf_goha_" + a + ".7.gz"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("man page of %s remains after dpkg --remove (%v)", a, err)
		}
	}
	pkgMustRun(t, "dpkg", "--purge", "goha")
	if v := pkgInstalledVersion(t); v != "" {
		t.Errorf("goha %s still known to dpkg after purge", v)
	}
	if _, err := os.Lstat("/usr/share/doc/goha"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/usr/share/doc/goha remains after purge (%v)", err)
	}
}

// rpmInstallUpgradeErase does for the .rpm what the .deb checks do, in a
// scratch root with its own database: install an older package with an
// extra agent, upgrade, compare the file list with the .deb's, erase.
func (e *pkgEnv) rpmInstallUpgradeErase(t *testing.T) {
	root := t.TempDir()
	rpm := func(args ...string) string {
		return pkgMustRun(t, "rpm", append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)...)
	}
	rpm("--initdb")
	rpm("--install", "--nodeps", e.oldPackage(t, "rpm"))
	if _, err := os.Lstat(filepath.Join(root, pkgOCFDir, pkgRetired)); err != nil {
		t.Fatalf("old rpm: %v", err)
	}
	rpm("--upgrade", "--nodeps", e.rpm)
	if _, err := os.Lstat(filepath.Join(root, pkgOCFDir, pkgRetired)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rpm upgrade left the stale symlink %s/%s (%v)", pkgOCFDir, pkgRetired, err)
	}
	if scripts := strings.TrimSpace(rpm("--query", "--scripts", "goha")); scripts != "" {
		t.Errorf("the rpm has scriptlets, the deb has none:\n%s", scripts)
	}

	// The .rpm and the .deb carry the same files (the lintian overrides
	// are Debian's alone).
	rpmFiles := strings.Fields(rpm("--query", "--list", "goha"))
	var debFiles []string
	for _, l := range strings.Split(pkgMustRun(t, "dpkg-deb", "--contents", e.deb), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		if p := strings.TrimPrefix(f[5], "."); !strings.HasPrefix(p, "/usr/share/lintian/") {
			debFiles = append(debFiles, p)
		}
	}
	var rpmNonDirs []string
	for _, f := range rpmFiles {
		if fi, err := os.Lstat(filepath.Join(root, f)); err == nil && !fi.IsDir() {
			rpmNonDirs = append(rpmNonDirs, f)
		}
	}
	slices.Sort(debFiles)
	slices.Sort(rpmNonDirs)
	if !slices.Equal(debFiles, rpmNonDirs) {
		t.Errorf("file lists differ:\n deb %v\n rpm %v", debFiles, rpmNonDirs)
	}

	rpm("--erase", "--nodeps", "goha")
	for _, p := range []string{pkgOCFDir, pkgGoha, "/usr/share/doc/goha"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s remains after rpm --erase (%v)", p, err)
		}
	}
}

// pkgNetns is a network namespace with a veth pair, both ends up, nic holding
// a base IPv4 and IPv6 address; it is deleted when the test ends.
type pkgNetns struct {
	name, nic string
}

func pkgNewNetns(t *testing.T) pkgNetns {
	t.Helper()
	ns := pkgNetns{name: fmt.Sprintf("gohapkg%d", os.Getpid()), nic: "gohapkg0"}
	pkgMustRun(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", ns.name, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "add", ns.nic, "type", "veth", "peer", "name", "gohapkg1"},
		{"link", "set", "lo", "up"},
		{"link", "set", ns.nic, "up"},
		{"link", "set", "gohapkg1", "up"},
		{"addr", "add", "10.77.0.1/24", "dev", ns.nic},
		{"addr", "add", "2001:db8:77::1/64", "dev", ns.nic, "nodad"},
	} {
		pkgMustRun(t, "ip", append([]string{"-n", ns.name}, args...)...)
	}
	return ns
}

// purge removes the goha package if it is installed.
func pkgPurge(t *testing.T) {
	t.Helper()
	if pkgInstalledVersion(t) == "" {
		return
	}
	if out, err := exec.Command("dpkg", "--purge", "goha").CombinedOutput(); err != nil {
		t.Errorf("dpkg --purge goha: %v\n%s", err, out)
	}
}

// pkgInstalledVersion is the installed goha package's version, "" if none.
func pkgInstalledVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--show", "--showformat", "${db:Status-Abbrev}${Version}", "goha").Output()
	if err != nil || !strings.HasPrefix(string(out), "ii ") {
		return ""
	}
	return strings.TrimPrefix(string(out), "ii ")
}

// pkgMetaParam is one parameter of a meta-data document.
type pkgMetaParam struct {
	name, typ, def, long string
	required, unique     bool
}

func pkgMetadataParams(t *testing.T, xml string) []pkgMetaParam {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatalf("meta-data: %v\n%s", err, xml)
	}
	var out []pkgMetaParam
	for _, p := range doc.FindElements("/resource-agent/parameters/parameter") {
		mp := pkgMetaParam{
			name:     p.SelectAttrValue("name", ""),
			required: p.SelectAttrValue("required", "0") == "1",
			unique:   p.SelectAttrValue("unique", "0") == "1",
		}
		if c := p.SelectElement("content"); c != nil {
			mp.typ, mp.def = c.SelectAttrValue("type", ""), c.SelectAttrValue("default", "")
		}
		if l := p.SelectElement("longdesc"); l != nil {
			mp.long = l.Text()
		}
		if mp.long == "" {
			if s := p.SelectElement("shortdesc"); s != nil {
				mp.long = s.Text()
			}
		}
		out = append(out, mp)
	}
	if len(out) == 0 {
		t.Fatalf("meta-data declares no parameters:\n%s", xml)
	}
	return out
}

// pkgMetaAction is one advertised action of a meta-data document.
type pkgMetaAction struct{ name, timeout, interval string }

func pkgMetadataActions(t *testing.T, xml string) []pkgMetaAction {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatal(err)
	}
	var out []pkgMetaAction
	for _, a := range doc.FindElements("/resource-agent/actions/action") {
		out = append(out, pkgMetaAction{
			name:     a.SelectAttrValue("name", ""),
			timeout:  a.SelectAttrValue("timeout", ""),
			interval: a.SelectAttrValue("interval", "0s"),
		})
	}
	return out
}

// pkgPCSOperation is one entry of pcs describe's "Default operations".
type pkgPCSOperation struct {
	name string
	opts map[string]string
}

// pkgPCSOperations parses the "Default operations:" block of pcs describe:
// "  name:" lines followed by "    key=value" lines.
func pkgPCSOperations(out string) []pkgPCSOperation {
	_, block, ok := strings.Cut(out, "\nDefault operations:\n")
	if !ok {
		return nil
	}
	var ops []pkgPCSOperation
	for _, l := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(l, "    "):
			if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && len(ops) > 0 {
				ops[len(ops)-1].opts[k] = v
			}
		case strings.HasPrefix(l, "  ") && strings.HasSuffix(l, ":"):
			ops = append(ops, pkgPCSOperation{name: strings.TrimSuffix(strings.TrimSpace(l), ":"), opts: map[string]string{}})
		}
	}
	return ops
}

func pkgSquash(s string) string { return strings.Join(strings.Fields(s), " ") }

// run runs a program and returns its combined output and exit code; a
// program that cannot be started fails the test.
func pkgRun(t *testing.T, timeout time.Duration, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	return "", -1
}

// pkgMustRun runs a program that must succeed and returns its standard output.
func pkgMustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
