package workload

import (
	"strings"
	"testing"
	"time"
)

func TestTemplateRendersEveryVariable(t *testing.T) {
	tp, err := ParseTemplate(`{"c":{{conn}},"s":{{ seq }},"t":{{now_ns}},"r":"{{role}}","i":{{index}},"p":"{{random 6}}"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tp.Append(nil, &Vars{Conn: 7, Seq: 3, NowNs: 42, Role: "pub", Index: 1, Rand: NewRand(1)}))
	if !strings.HasPrefix(got, `{"c":7,"s":3,"t":42,"r":"pub","i":1,"p":"`) || len(got) != len(`{"c":7,"s":3,"t":42,"r":"pub","i":1,"p":"xxxxxx"}`) {
		t.Fatalf("rendered %s", got)
	}
	if !tp.HasVar(VarNowNs) || !tp.HasVar(VarSeq) {
		t.Fatal("HasVar misses now_ns or seq")
	}
}

func TestTemplateErrors(t *testing.T) {
	for src, want := range map[string]string{
		"{{nope}}":           "unknown variable {{nope}}; the variables are conn, seq",
		"{{random}}":         "needs one size",
		"{{random x}}":       "whole number",
		"{{conn 3}}":         "takes no argument",
		"a {{seq":            "without its }}",
		"a }} b":             "without its {{",
		"{{}}":               "names no variable",
		"{{random 9999999}}": "from 1 to",
	} {
		if _, err := ParseTemplate(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", src, err, want)
		}
	}
}

func TestMatcher(t *testing.T) {
	m, err := NewMatcher("", "room.state", "open")
	if err != nil {
		t.Fatal(err)
	}
	for frame, want := range map[string]string{
		`{"room":{"state":"open"}}`:   "",
		`{"room":{"state":"closed"}}`: "room.state is closed",
		`{"room":1}`:                  "no field room.state",
		`hello`:                       "not JSON",
	} {
		ok, why := m.Match([]byte(frame))
		if ok != (want == "") || why != want {
			t.Errorf("%s: ok %v why %q, want %q", frame, ok, why, want)
		}
	}
	n, _ := NewMatcher("", "n", "3")
	if ok, _ := n.Match([]byte(`{"n":3}`)); !ok {
		t.Error("a number field does not equal its text")
	}
	re, _ := NewMatcher(`^joined \w+$`, "", "")
	if ok, _ := re.Match([]byte("joined lobby")); !ok {
		t.Error("regex did not match")
	}
	if _, err := NewMatcher("(", "", ""); err == nil {
		t.Error("a bad regex compiled")
	}
	if _, err := NewMatcher("a", "b", ""); err == nil {
		t.Error("regex and field together were accepted")
	}
}

func TestExtractor(t *testing.T) {
	f, _ := NewExtractor("ts", "")
	for frame, want := range map[string]int64{`{"a":1,"ts": 123}`: 123, `{"ts":"456"}`: 456, `{"ts":x}`: -1, `{"t":1}`: -1} {
		n, ok := f.Number([]byte(frame))
		if want < 0 && ok || want >= 0 && (!ok || n != want) {
			t.Errorf("%s: %d %v, want %d", frame, n, ok, want)
		}
	}
	r, err := NewExtractor("", `id=(\d+)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := r.Number([]byte("req id=77 done")); !ok || n != 77 {
		t.Fatalf("regex gave %d %v", n, ok)
	}
	if _, err := NewExtractor("", `id=\d+`); err == nil || !strings.Contains(err.Error(), "needs a group") {
		t.Fatalf("a regex without a group: %v", err)
	}
}

func TestSplitAndInterleave(t *testing.T) {
	counts, err := Split(1000, []Share{{Fraction: 0.01}, {Rest: true}})
	if err != nil || counts[0] != 10 || counts[1] != 990 {
		t.Fatalf("counts %v err %v", counts, err)
	}
	p := NewPlan(Stamp, nil, []*Role{{Name: "pub"}, {Name: "sub"}}, counts)
	// One publisher in each hundred ids: a server filling rooms of 100 in
	// connection order gets one per room.
	for room := range 10 {
		pubs := 0
		for id := room * 100; id < room*100+100; id++ {
			if r, _ := p.RoleOf(id); r == 0 {
				pubs++
			}
		}
		if pubs != 1 {
			t.Fatalf("room %d has %d publishers", room, pubs)
		}
	}
	if _, idx := p.RoleOf(999); idx != 989 {
		t.Fatalf("the last subscriber's index is %d", idx)
	}
	for _, bad := range [][]Share{{{Count: 600}, {Count: 500}}, {{Rest: true}, {Rest: true}}, {{Count: 10}}} {
		if _, err := Split(1000, bad); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
	small := p.Resize(100)
	if small.Roles[0].Planned != 1 || small.Roles[1].Planned != 99 {
		t.Fatalf("resized to %d and %d", small.Roles[0].Planned, small.Roles[1].Planned)
	}
}

func TestStagesAreLinear(t *testing.T) {
	s, err := NewStages(100, 10, []StageSpec{
		{Name: "up", Duration: 10 * time.Second, Conns: 1000, ConnectRate: 100, MsgRate: 10},
		{Duration: 10 * time.Second, Conns: 1000, ConnectRate: 100, MsgRate: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	if i, p := s.At(5 * time.Second); i != 0 || p.Conns != 500 || p.Name != "up" {
		t.Fatalf("at 5s: stage %d %+v", i, p)
	}
	if i, p := s.At(15 * time.Second); i != 1 || p.MsgRate != 20 || p.Name != "stage2" {
		t.Fatalf("at 15s: stage %d %+v", i, p)
	}
	if s.Length() != 20*time.Second || s.MaxConns() != 1000 {
		t.Fatalf("length %v max %d", s.Length(), s.MaxConns())
	}
	if _, err := NewStages(1, 1, []StageSpec{{Duration: 0, Conns: 1}}); err == nil || !strings.Contains(err.Error(), "backwards") {
		t.Fatalf("a zero stage: %v", err)
	}
}

func TestRenderAndExtractDoNotAllocate(t *testing.T) {
	tp, _ := ParseTemplate(`{"ts":{{now_ns}},"seq":{{seq}},"p":"{{random 16}}"}`)
	ex, _ := NewExtractor("ts", "")
	v := &Vars{Rand: NewRand(3)}
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		v.NowNs++
		buf = tp.Append(buf[:0], v)
		if _, ok := ex.Number(buf); !ok {
			t.Fatal("no ts")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func BenchmarkTemplateAndStamp(b *testing.B) {
	tp, _ := ParseTemplate(`{"type":"pub","ts":{{now_ns}},"seq":{{seq}},"from":{{conn}},"pad":"{{random 32}}"}`)
	ex, _ := NewExtractor("ts", "")
	v := &Vars{Rand: NewRand(3)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		v.NowNs++
		buf = tp.Append(buf[:0], v)
		ex.Number(buf)
	}
}
