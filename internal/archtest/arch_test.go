package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/rctdb/rctdb/"

// pkg is what `go list` says of one package.
type pkg struct {
	ImportPath   string
	Dir          string
	Doc          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
}

func (p pkg) name() string { return strings.TrimPrefix(p.ImportPath, module) }

// ours lists the imports of our own module, by short name.
func (p pkg) ours() []string {
	var out []string
	for _, imp := range p.Imports {
		if strings.HasPrefix(imp, module) {
			out = append(out, strings.TrimPrefix(imp, module))
		}
	}
	return out
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// packageMap reads the table of docs/architecture.md: package -> the
// packages of ours it may import; nil means any.
func packageMap(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([^`]+)` \\|[^|]*\\| (.*) \\|$")
	name := regexp.MustCompile("`([^`]+)`")
	m := make(map[string][]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r := row.FindStringSubmatch(sc.Text())
		if r == nil {
			continue
		}
		switch allowed := r[2]; allowed {
		case "everything":
			m[r[1]] = nil
		case "—":
			m[r[1]] = []string{}
		default:
			for _, n := range name.FindAllStringSubmatch(allowed, -1) {
				m[r[1]] = append(m[r[1]], n[1])
			}
		}
	}
	if len(m) == 0 {
		t.Fatal("no package rows in docs/architecture.md")
	}
	return m
}

// TestPackageMapMatchesImports: every package has its row in the map and
// imports only what the row allows; every row names a package.
func TestPackageMapMatchesImports(t *testing.T) {
	allowed := packageMap(t)
	seen := make(map[string]bool)
	for _, p := range listPackages(t) {
		name := p.name()
		seen[name] = true
		may, ok := allowed[name]
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md", name)
			continue
		}
		if may == nil {
			continue
		}
		for _, imp := range p.ours() {
			if !slices.Contains(may, imp) {
				t.Errorf("package %s imports %s, which its row in docs/architecture.md does not allow", name, imp)
			}
		}
	}
	for name := range allowed {
		if !seen[name] {
			t.Errorf("docs/architecture.md has a row for %s, which does not exist", name)
		}
	}
}

// TestImportRules are the rules the map must never lose, stated again so
// that an edit of the table cannot drop them.
func TestImportRules(t *testing.T) {
	serverUsers := []string{"cmd/ctdbd", "internal/clustertest", "tests"}
	daemonOnly := []string{"server", "raftlayer", "election", "volatile", "persistent", "recovery",
		"transport", "noderpc", "control", "databases", "membership", "traverse", "config"}
	for _, p := range listPackages(t) {
		name, ours := p.name(), p.ours()
		switch {
		case (name == "protocol" || name == "tdb") && len(ours) > 0:
			t.Errorf("%s imports %v: it must import nothing of ours", name, ours)
		case len(p.CgoFiles) > 0 && name != "tdb":
			t.Errorf("%s uses cgo (%v): only tdb may", name, p.CgoFiles)
		case slices.Contains(ours, "server") && !slices.Contains(serverUsers, name):
			t.Errorf("%s imports server: only %v may", name, serverUsers)
		}
		if name == "cmd/ctdb" {
			for _, imp := range ours {
				if slices.Contains(daemonOnly, imp) {
					t.Errorf("cmd/ctdb imports %s: the tool reaches the daemon only through client", imp)
				}
			}
		}
	}
}

// TestEveryPackageHasADocComment: `go list` sees a package doc comment.
func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles)+len(p.CgoFiles) > 0 && p.Doc == "" {
			t.Errorf("package %s has no doc comment (doc.go)", p.name())
		}
	}
}

// TestEveryTestedPackageChecksForLeaks: a package with tests ends them
// with goleak's check, so a goroutine left running by any test fails it.
func TestEveryTestedPackageChecksForLeaks(t *testing.T) {
	for _, p := range listPackages(t) {
		files := append(slices.Clone(p.TestGoFiles), p.XTestGoFiles...)
		if len(files) == 0 {
			continue
		}
		found := false
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("func TestMain(")) && (bytes.Contains(b, []byte("goleak.VerifyTestMain(")) || bytes.Contains(b, []byte("goleak.Find("))) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("package %s has tests but no TestMain that checks for leaked goroutines (goleak)", p.name())
		}
	}
}

// sourceFiles parses the non-test Go files of every package.
func sourceFiles(t *testing.T) map[string][]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	out := make(map[string][]*ast.File)
	for _, p := range listPackages(t) {
		for _, f := range append(slices.Clone(p.GoFiles), p.CgoFiles...) {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out[p.name()] = append(out[p.name()], af)
		}
	}
	return out
}

// TestNoInterfaceDeclaredTwice: two interfaces with the same methods in
// two places are one concept declared twice; declare it once and use it.
func TestNoInterfaceDeclaredTwice(t *testing.T) {
	where := make(map[string][]string) // method set -> declarations
	for name, files := range sourceFiles(t) {
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok || it.Methods == nil || len(it.Methods.List) == 0 {
					return true
				}
				var methods []string
				for _, m := range it.Methods.List {
					var b bytes.Buffer
					printer.Fprint(&b, token.NewFileSet(), m.Type)
					for _, id := range m.Names {
						methods = append(methods, id.Name+strings.TrimPrefix(b.String(), "func"))
					}
					if len(m.Names) == 0 {
						methods = append(methods, "embeds "+b.String())
					}
				}
				sort.Strings(methods)
				key := strings.Join(methods, "; ")
				where[key] = append(where[key], name+"."+ts.Name.Name)
				return true
			})
		}
	}
	for methods, decls := range where {
		if len(decls) > 1 {
			sort.Strings(decls)
			t.Errorf("interface {%s} is declared %d times: %v", methods, len(decls), decls)
		}
	}
}

// TestInternalOpcodesOnlyInNoderpc: rctdb's own opcodes (0x7C......) are
// declared in noderpc/opcodes.go and nowhere else.
func TestInternalOpcodesOnlyInNoderpc(t *testing.T) {
	op := regexp.MustCompile(`(?i)^0x7c[0-9a-f]{6}$`)
	for name, files := range sourceFiles(t) {
		if name == "noderpc" {
			continue
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.INT && op.MatchString(lit.Value) {
					t.Errorf("%s declares internal opcode %s: declare it in noderpc/opcodes.go", name, lit.Value)
				}
				return true
			})
		}
	}
}

// TestServerStaysTheSocketAndTheWiring: server keeps the client socket,
// the srvid registry, message routing, control dispatch and the wiring;
// past 2,000 lines it has taken in a concern that has a room of its own.
// Leftover merge conflict markers are caught on the way.
func TestServerStaysTheSocketAndTheWiring(t *testing.T) {
	const limit = 2000
	lines := 0
	for _, p := range listPackages(t) {
		for _, f := range append(append([]string{}, p.GoFiles...), p.CgoFiles...) {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if conflict.Match(b) {
				t.Errorf("%s/%s has a merge conflict marker", p.name(), f)
			}
			if p.name() == "server" {
				lines += bytes.Count(b, []byte("\n"))
			}
		}
	}
	docs, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	for _, f := range append(docs, filepath.Join("..", "..", "README.md")) {
		if b, err := os.ReadFile(f); err != nil || conflict.Match(b) {
			t.Errorf("%s: unreadable (%v) or has a merge conflict marker", f, err)
		}
	}
	if lines >= limit {
		t.Errorf("server has %d lines of non-test Go, over %d: move a concern to the package that owns it", lines, limit)
	}
}

var conflict = regexp.MustCompile(`(?m)^(<<<<<<<|>>>>>>>) `)
