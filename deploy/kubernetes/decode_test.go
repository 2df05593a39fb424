package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds maps "apiVersion kind" to a new object of the API type the document
// decodes into. A manifest of any other kind is an error.
var kinds = map[string]func() any{
	"batch/v1 Job":             func() any { return new(batchv1.Job) },
	"apps/v1 Deployment":       func() any { return new(appsv1.Deployment) },
	"v1 Pod":                   func() any { return new(corev1.Pod) },
	"v1 Service":               func() any { return new(corev1.Service) },
	"v1 PersistentVolumeClaim": func() any { return new(corev1.PersistentVolumeClaim) },
	"v1 ConfigMap":             func() any { return new(corev1.ConfigMap) },
	"v1 Secret":                func() any { return new(corev1.Secret) },
}

// manifest is one document of a *.yaml file in this folder, decoded.
type manifest struct {
	file string
	obj  any
}

// decodeStrict decodes one YAML document the way the API server does under
// strict field validation (kubectl's default): duplicate keys, unknown fields
// and field names in the wrong case are errors. It returns nil for a document
// that holds only comments.
func decodeStrict(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+" "+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q is not a kind this test knows", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	return obj, nil
}

// decodeAll decodes every document of a multi-document YAML file.
func decodeAll(file string, b []byte) ([]manifest, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []manifest
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, n, err)
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, n, err)
		}
		if obj != nil {
			out = append(out, manifest{file: file, obj: obj})
		}
	}
}

// loadManifests decodes every *.yaml file in this folder.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no *.yaml manifests in this folder")
	}
	var all []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeAll(f, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s holds no object", f)
		}
		all = append(all, ms...)
	}
	return all
}

// only returns the one object of type T among ms, and the file it is in.
func only[T any](t *testing.T, ms []manifest) (*T, string) {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if _, ok := m.obj.(*T); ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %T in the manifests, found %d", new(T), len(found))
	}
	return found[0].obj.(*T), found[0].file
}

func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"job.yaml":       "*v1.Job wssbench",
		"pvc.yaml":       "*v1.PersistentVolumeClaim wssbench-reports",
		"collector.yaml": "*v1.Pod wssbench-collector",
		"target.yaml":    "*v1.Deployment wssbench-target, *v1.Service wssbench-target",
	}
	got := map[string][]string{}
	for _, m := range loadManifests(t) {
		name := m.obj.(metav1.Object).GetName()
		got[m.file] = append(got[m.file], fmt.Sprintf("%T %s", m.obj, name))
	}
	for file, w := range want {
		if g := strings.Join(got[file], ", "); g != w {
			t.Errorf("%s holds %q, want %q", file, g, w)
		}
	}
	for file := range got {
		if _, ok := want[file]; !ok {
			t.Errorf("%s is not a manifest this test checks: add it to the want list", file)
		}
	}
}

// TestStrictDecodeRefusesMistakes proves the decoding is strict: each mutation
// of job.yaml is one the API server would refuse or misread.
func TestStrictDecodeRefusesMistakes(t *testing.T) {
	t.Parallel()
	orig, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll("job.yaml", orig); err != nil {
		t.Fatalf("job.yaml as shipped: %v", err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"misspelled field", "  parallelism: 4\n", "  paralelism: 4\n", "unknown field"},
		{"field in the wrong case", "  parallelism: 4\n", "  Parallelism: 4\n", "unknown field"},
		{"duplicate field", "  parallelism: 4\n", "  parallelism: 4\n  parallelism: 2\n", "parallelism"},
		{"unknown field in the pod", "      restartPolicy: Never\n", "      restartPolicy: Never\n      restartPolcy: Never\n", "unknown field"},
		{"wrong type", "  completions: 4\n", "  completions: \"4\"\n", "cannot unmarshal"},
		{"unknown kind", "kind: Job\n", "kind: Jobs\n", "not a kind"},
		{"unknown apiVersion", "apiVersion: batch/v1\n", "apiVersion: batch/v2\n", "not a kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !bytes.Contains(orig, []byte(tc.old)) {
				t.Fatalf("job.yaml no longer contains %q: update the mutation", tc.old)
			}
			mutated := bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)
			_, err := decodeAll("job.yaml", mutated)
			if err == nil {
				t.Fatalf("job.yaml with %q for %q decoded without error", tc.new, tc.old)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
