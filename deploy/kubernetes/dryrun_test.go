package kubernetes_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/cmd/wssbench/cli"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// expand does what the kubelet does to a container's args: $(NAME) becomes
// the value of env NAME, $$ becomes $, and a reference to an undefined name
// stays as it is.
func expand(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			if v, ok := env[s[i+2:i+2+end]]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"/reports/shard-$(A).json": "/reports/shard-1.json",
		"$(A)$(B)":                 "1two",
		"$(C)":                     "$(C)",
		"$$(A)":                    "$(A)",
		"$A":                       "$A",
		"$(A":                      "$(A",
		"cost$":                    "cost$",
	} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// podEnv is the env the kubelet gives the container of shard index.
func podEnv(t *testing.T, c *corev1.Container, index int) map[string]string {
	t.Helper()
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(index)}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = expand(e.Value, env)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == completionIndexField:
			env[e.Name] = strconv.Itoa(index)
		default:
			t.Fatalf("env %s comes from %+v, which this test cannot supply", e.Name, e.ValueFrom)
		}
	}
	return env
}

// writeCA writes a fresh self-signed ECDSA P-256 CA certificate as PEM to file.
func writeCA(t *testing.T, file string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wssbench test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJobArgsPassDryRun runs the Job's args through wssbench run --dry-run,
// once per shard, as the kubelet would hand them over: $(VAR) expanded, the
// env set, the mounts replaced by temporary folders holding what the volumes
// hold. --start-at moves 10 minutes ahead so the placeholder never lies in the
// past; --dry-run must not wait for it.
func TestJobArgsPassDryRun(t *testing.T) {
	job, _ := only[batchv1.Job](t, loadManifests(t))
	spec := &job.Spec.Template.Spec
	c := container(t, spec)

	// The dry run checks the shard against this machine's open-file limit
	// (Go has raised it to the hard limit): a low one here says nothing of the pod.
	conns, err := strconv.Atoi(flagValue(t, c.Args, "--conns"))
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if need := uint64(conns/int(*job.Spec.Completions) + 64); syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < need {
		t.Skipf("this machine may open %d files, a shard of the Job needs about %d: the dry run would refuse the machine, not the Job", rl.Cur, need)
	}

	// Each mount becomes a temporary folder; a ConfigMap's items are CA
	// certificates (the Job's only ConfigMap is the CA).
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir := t.TempDir()
		mounts[m.MountPath] = dir
		if v := volume(t, spec, m.Name); v.ConfigMap != nil {
			for _, it := range v.ConfigMap.Items {
				writeCA(t, filepath.Join(dir, it.Path))
			}
		}
	}
	relocate := func(arg string) string {
		for mp, dir := range mounts {
			if strings.HasPrefix(arg, strings.TrimSuffix(mp, "/")+"/") {
				return dir + arg[len(strings.TrimSuffix(mp, "/")):]
			}
		}
		return arg
	}

	for index := 0; index < int(*job.Spec.Completions); index++ {
		t.Run("shard index "+strconv.Itoa(index), func(t *testing.T) {
			env := podEnv(t, c, index)
			for k, v := range env {
				t.Setenv(k, v)
			}
			var args []string
			for i, a := range c.Args {
				a = relocate(expand(a, env))
				if strings.Contains(a, "$(") {
					t.Fatalf("arg %q still holds a $(VAR) after expansion", a)
				}
				if i > 0 && c.Args[i-1] == "--start-at" {
					a = time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
				}
				args = append(args, a)
			}
			args = append(args, "--dry-run")

			type result struct {
				code           int
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				var o, e bytes.Buffer
				code := cli.Main(args, &o, &e)
				done <- result{code, o.String(), e.String()}
			}()
			select {
			case r := <-done:
				if r.code != cli.ExitOK {
					t.Fatalf("wssbench %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, cli.ExitOK, r.stdout, r.stderr)
				}
			case <-time.After(time.Minute):
				t.Fatalf("wssbench %s did not return within a minute: --dry-run waits for --start-at?", strings.Join(args, " "))
			}
		})
	}
}
