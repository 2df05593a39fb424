package live

import "testing"

// BenchmarkRender is the CPU one live event costs the driver's process: a
// snapshot of a run's state and its plots drawn.
func BenchmarkRender(b *testing.B) {
	b.ReportAllocs()
	p := New(Config{})
	for i := range 60 {
		feed(p, i)
	}
	for b.Loop() {
		if _, err := p.render(p.take()); err != nil {
			b.Fatal(err)
		}
	}
}
