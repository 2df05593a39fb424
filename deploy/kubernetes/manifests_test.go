package kubernetes_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// completionIndexField is where an Indexed Job's pod finds its index.
const completionIndexField = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

// flagValues returns the values given to --name in args, as "--name V" or "--name=V".
func flagValues(args []string, name string) []string {
	var vals []string
	for i, a := range args {
		switch {
		case a == name && i+1 < len(args):
			vals = append(vals, args[i+1])
		case strings.HasPrefix(a, name+"="):
			vals = append(vals, strings.TrimPrefix(a, name+"="))
		}
	}
	return vals
}

// flagValue returns the one value given to --name in args.
func flagValue(t *testing.T, args []string, name string) string {
	t.Helper()
	v := flagValues(args, name)
	if len(v) != 1 {
		t.Fatalf("args %q give %s %d times, want once", args, name, len(v))
	}
	return v[0]
}

// mountFor returns the volume mount of c that holds file, the deepest one if
// mounts nest.
func mountFor(t *testing.T, c *corev1.Container, file string) corev1.VolumeMount {
	t.Helper()
	var best corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") && len(m.MountPath) > len(best.MountPath) {
			best = m
		}
	}
	if best.Name == "" {
		t.Fatalf("%s is on no volume mount of container %s", file, c.Name)
	}
	return best
}

// volume returns the volume of spec called name.
func volume(t *testing.T, spec *corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

// container returns the one container of spec.
func container(t *testing.T, spec *corev1.PodSpec) *corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	return &spec.Containers[0]
}

// envValue returns the literal value of the env var name of c.
func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			if e.ValueFrom != nil {
				t.Fatalf("env %s comes from %v, want a literal value", name, e.ValueFrom)
			}
			return e.Value
		}
	}
	t.Fatalf("container %s has no env %s", c.Name, name)
	return ""
}

// show formats what p points to, or "unset".
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// readme returns this folder's README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// selects reports whether sel selects pods with the labels set.
func selects(t *testing.T, sel *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("label selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(set))
}

func TestJobRunsOneShardPerIndex(t *testing.T) {
	t.Parallel()
	job, _ := only[batchv1.Job](t, loadManifests(t))
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode = %s, want Indexed (the pod index is the shard)", show(s.CompletionMode))
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
		t.Fatalf("completions %s and parallelism %s must be set and equal: every shard runs at once", show(s.Completions), show(s.Parallelism))
	}
	c := container(t, &s.Template.Spec)
	shards, err := strconv.Atoi(envValue(t, c, "WSSBENCH_SHARDS"))
	if err != nil || int32(shards) != *s.Completions {
		t.Errorf("WSSBENCH_SHARDS = %q, want completions %d", envValue(t, c, "WSSBENCH_SHARDS"), *s.Completions)
	}
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("backoffLimit = %s, want 0: a retried shard sends its load twice", show(s.BackoffLimit))
	}
	if s.BackoffLimitPerIndex != nil && *s.BackoffLimitPerIndex != 0 {
		t.Errorf("backoffLimitPerIndex = %d, want 0 or unset", *s.BackoffLimitPerIndex)
	}
	if p := s.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never: a restarted container sends its load twice", p)
	}
	for _, e := range c.Env {
		if e.Name == "JOB_COMPLETION_INDEX" && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != completionIndexField) {
			t.Errorf("env JOB_COMPLETION_INDEX = %+v, want the field %s", e, completionIndexField)
		}
	}
	args := c.Args
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %q do not start with run", args)
	}
	if v := flagValue(t, args, "--shard"); v != "auto" {
		t.Errorf("--shard %s, want auto (the shard from JOB_COMPLETION_INDEX and WSSBENCH_SHARDS)", v)
	}
	if _, err := time.Parse(time.RFC3339, flagValue(t, args, "--start-at")); err != nil {
		t.Errorf("--start-at: %v", err)
	}
	out := flagValue(t, args, "--out")
	if !strings.Contains(out, "$(JOB_COMPLETION_INDEX)") {
		t.Errorf("--out %s does not name the shard: the shards would write one file", out)
	}
	if m := mountFor(t, c, out); m.ReadOnly {
		t.Errorf("--out %s is on the read-only mount %s", out, m.MountPath)
	}
	// The kubelet leaves $(NAME) as it is when the container has no env NAME.
	env := map[string]bool{"JOB_COMPLETION_INDEX": true}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, a := range args {
		for _, ref := range regexp.MustCompile(`\$\(([^)]*)\)`).FindAllStringSubmatch(a, -1) {
			if !env[ref[1]] {
				t.Errorf("arg %q refers to $(%s), which the container's env does not define", a, ref[1])
			}
		}
	}
}

// TestJobOnePodPerNode: shards on one node would share its CPU and network and
// measure each other. A topology spread with maxSkew 1 still packs two pods on
// a node when there are fewer nodes than shards, so the anti-affinity must be
// required.
func TestJobOnePodPerNode(t *testing.T) {
	t.Parallel()
	job, _ := only[batchv1.Job](t, loadManifests(t))
	tmpl := job.Spec.Template
	aff := tmpl.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil {
		t.Fatal("the Job's pods have no podAntiAffinity")
	}
	for _, term := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey == "kubernetes.io/hostname" && selects(t, term.LabelSelector, tmpl.Labels) && len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
			return
		}
	}
	t.Errorf("no required podAntiAffinity term on kubernetes.io/hostname selects the Job's own pods (labels %v)", tmpl.Labels)
}

func TestReportsGoToTheSharedClaim(t *testing.T) {
	t.Parallel()
	ms := loadManifests(t)
	job, _ := only[batchv1.Job](t, ms)
	pvc, _ := only[corev1.PersistentVolumeClaim](t, ms)
	collector, _ := only[corev1.Pod](t, ms)

	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("claim %s access modes %v, want [ReadWriteMany]: the shards write from different nodes", pvc.Name, pvc.Spec.AccessModes)
	}
	if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		t.Errorf("claim %s requests no storage", pvc.Name)
	}

	c := container(t, &job.Spec.Template.Spec)
	out := flagValue(t, c.Args, "--out")
	m := mountFor(t, c, out)
	v := volume(t, &job.Spec.Template.Spec, m.Name)
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("--out %s is on volume %s = %+v, want the claim %s", out, m.Name, v.VolumeSource, pvc.Name)
	}

	cc := container(t, &collector.Spec)
	var collectorMount string
	for _, cm := range cc.VolumeMounts {
		cv := volume(t, &collector.Spec, cm.Name)
		if cv.PersistentVolumeClaim != nil && cv.PersistentVolumeClaim.ClaimName == pvc.Name {
			collectorMount = cm.MountPath
		}
	}
	if collectorMount == "" {
		t.Fatalf("the collector pod %s does not mount the claim %s", collector.Name, pvc.Name)
	}
	if want := "kubectl cp " + collector.Name + ":" + collectorMount; !strings.Contains(readme(t), want) {
		t.Errorf("README.md does not say %q", want)
	}
	// The collector sees the shard files where the Job's --out puts them.
	rel := strings.TrimPrefix(path.Dir(out), m.MountPath)
	if want := "reports" + rel + "/shard-*.json"; !strings.Contains(readme(t), want) {
		t.Errorf("README.md does not merge %q", want)
	}
}

func TestJobTrustsTheCAFromAConfigMap(t *testing.T) {
	t.Parallel()
	job, _ := only[batchv1.Job](t, loadManifests(t))
	spec := &job.Spec.Template.Spec
	c := container(t, spec)
	ca := flagValue(t, c.Args, "--ca")
	m := mountFor(t, c, ca)
	if !m.ReadOnly {
		t.Errorf("the CA mount %s is not read-only", m.MountPath)
	}
	v := volume(t, spec, m.Name)
	if v.ConfigMap == nil {
		t.Fatalf("--ca %s is on volume %s = %+v, want a ConfigMap", ca, m.Name, v.VolumeSource)
	}
	file := strings.TrimPrefix(ca, strings.TrimSuffix(m.MountPath, "/")+"/")
	var key string
	for _, it := range v.ConfigMap.Items {
		if it.Path == file {
			key = it.Key
		}
	}
	if key == "" {
		t.Fatalf("ConfigMap volume %s has no item at %s", v.ConfigMap.Name, file)
	}
	if want := "kubectl create configmap " + v.ConfigMap.Name + " --from-file=" + key; !strings.Contains(readme(t), want) {
		t.Errorf("README.md does not say %q", want)
	}
}

// buildImage is the image the README builds: docker build ... -t IMAGE .
var buildImage = regexp.MustCompile(`docker build -f deploy/kubernetes/Containerfile -t (\S+) \.`)

func TestImageIsTheOneTheReadmeBuilds(t *testing.T) {
	t.Parallel()
	ms := loadManifests(t)
	sub := buildImage.FindStringSubmatch(readme(t))
	if sub == nil {
		t.Fatalf("README.md has no %q", buildImage)
	}
	job, _ := only[batchv1.Job](t, ms)
	dep, _ := only[appsv1.Deployment](t, ms)
	for what, spec := range map[string]*corev1.PodSpec{"Job " + job.Name: &job.Spec.Template.Spec, "Deployment " + dep.Name: &dep.Spec.Template.Spec} {
		if img := container(t, spec).Image; img != sub[1] {
			t.Errorf("%s runs image %s, README.md builds %s", what, img, sub[1])
		}
	}

	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	cf := string(b)
	last := cf[strings.LastIndex(cf, "\nFROM "):]
	if !strings.HasPrefix(last, "\nFROM gcr.io/distroless/static-debian12:nonroot\n") && !strings.HasPrefix(last, "\nFROM scratch\n") {
		t.Errorf("the final stage is not distroless static nonroot or scratch:%s", last)
	}
	if !strings.Contains(last, "\nENTRYPOINT [\"/wssbench\"]") {
		t.Errorf("the final stage's ENTRYPOINT is not /wssbench:%s", last)
	}
	user := regexp.MustCompile(`\nUSER (\d+)`).FindStringSubmatch(last)
	if user == nil || user[1] == "0" {
		t.Errorf("the final stage sets no non-root numeric USER:%s", last)
	}
	if !strings.Contains(cf, "CGO_ENABLED=0 go build -trimpath") {
		t.Error("the Containerfile does not build a static binary with CGO_ENABLED=0 go build -trimpath")
	}
}

// podSpecs returns every pod spec in the manifests, by what holds it.
func podSpecs(t *testing.T, ms []manifest) map[string]*corev1.PodSpec {
	t.Helper()
	specs := map[string]*corev1.PodSpec{}
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *batchv1.Job:
			specs["Job "+o.Name] = &o.Spec.Template.Spec
		case *appsv1.Deployment:
			specs["Deployment "+o.Name] = &o.Spec.Template.Spec
		case *corev1.Pod:
			specs["Pod "+o.Name] = &o.Spec
		}
	}
	if len(specs) == 0 {
		t.Fatal("no pod specs")
	}
	return specs
}

func TestPodsRunAsNonRootAndBounded(t *testing.T) {
	t.Parallel()
	for what, spec := range podSpecs(t, loadManifests(t)) {
		psc := spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s container %s has no securityContext", what, c.Name)
				continue
			}
			nonRoot, uid := psc.RunAsNonRoot, psc.RunAsUser
			if sc.RunAsNonRoot != nil {
				nonRoot = sc.RunAsNonRoot
			}
			if sc.RunAsUser != nil {
				uid = sc.RunAsUser
			}
			if nonRoot == nil || !*nonRoot || (uid != nil && *uid == 0) {
				t.Errorf("%s container %s may run as root (runAsNonRoot %s, runAsUser %s)", what, c.Name, show(nonRoot), show(uid))
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s container %s allows privilege escalation", what, c.Name)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s container %s has a writable root file system", what, c.Name)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s container %s is privileged", what, c.Name)
			}
			if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s container %s does not drop all capabilities", what, c.Name)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("%s container %s requests no %s", what, c.Name, r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					t.Errorf("%s container %s has no %s limit", what, c.Name, r)
				}
			}
			for _, m := range c.VolumeMounts {
				volume(t, spec, m.Name)
			}
		}
	}
}

// defaultPorts is the Linux default ephemeral port range, 32768-60999.
const defaultPorts = 60999 - 32768 + 1

// TestShardFitsItsPorts: one shard's connections all go from the pod's address
// to one target address and port, so each takes an ephemeral port of the pod.
func TestShardFitsItsPorts(t *testing.T) {
	t.Parallel()
	job, _ := only[batchv1.Job](t, loadManifests(t))
	spec := &job.Spec.Template.Spec
	c := container(t, spec)
	conns, err := strconv.Atoi(flagValue(t, c.Args, "--conns"))
	if err != nil {
		t.Fatal(err)
	}
	perShard := (conns + int(*job.Spec.Completions) - 1) / int(*job.Spec.Completions)
	ports := defaultPorts
	if spec.SecurityContext != nil {
		for _, s := range spec.SecurityContext.Sysctls {
			if s.Name == "net.ipv4.ip_local_port_range" {
				lo, hi, ok := strings.Cut(s.Value, " ")
				l, err1 := strconv.Atoi(strings.TrimSpace(lo))
				h, err2 := strconv.Atoi(strings.TrimSpace(hi))
				if !ok || err1 != nil || err2 != nil || h < l {
					t.Fatalf("sysctl %s = %q is not LOW HIGH", s.Name, s.Value)
				}
				ports = h - l + 1
			}
		}
	}
	if len(flagValues(c.Args, "--source-ips")) == 0 && perShard > ports*97/100 {
		t.Errorf("a shard holds %d connections (--conns %d over %d shards), more than its %d ephemeral ports allow", perShard, conns, *job.Spec.Completions, ports)
	}
}

func TestDemoTargetIsWhatTheJobDials(t *testing.T) {
	t.Parallel()
	ms := loadManifests(t)
	job, _ := only[batchv1.Job](t, ms)
	dep, _ := only[appsv1.Deployment](t, ms)
	svc, _ := only[corev1.Service](t, ms)

	tmpl := dep.Spec.Template
	if !selects(t, dep.Spec.Selector, tmpl.Labels) {
		t.Errorf("Deployment %s selector %v does not select its own pods %v", dep.Name, dep.Spec.Selector, tmpl.Labels)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, tmpl.Labels) {
		t.Errorf("Service %s selector %v does not select the target pods %v", svc.Name, svc.Spec.Selector, tmpl.Labels)
	}
	if selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, job.Spec.Template.Labels) {
		t.Errorf("Service %s selects the driver pods too", svc.Name)
	}

	u, err := url.Parse(flagValue(t, container(t, &job.Spec.Template.Spec).Args, "--target"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("--target %s: %v", u, err)
	}
	if u.Scheme != "wss" || host != svc.Name {
		t.Errorf("--target %s is not wss:// to the Service %s", u, svc.Name)
	}
	tc := container(t, &tmpl.Spec)
	var found bool
	for _, p := range svc.Spec.Ports {
		if strconv.Itoa(int(p.Port)) != port {
			continue
		}
		found = true
		var listens bool
		for _, cp := range tc.Ports {
			if (p.TargetPort.String() == cp.Name || p.TargetPort.IntValue() == int(cp.ContainerPort)) &&
				strings.HasSuffix(flagValue(t, tc.Args, "--listen"), ":"+strconv.Itoa(int(cp.ContainerPort))) {
				listens = true
			}
		}
		if !listens {
			t.Errorf("Service port %d goes to %s, where wssbench serve --listen %s does not listen", p.Port, p.TargetPort.String(), flagValue(t, tc.Args, "--listen"))
		}
	}
	if !found {
		t.Errorf("Service %s has no port %s", svc.Name, port)
	}

	if tc.Args[0] != "serve" {
		t.Fatalf("the target runs %q, want wssbench serve", tc.Args)
	}
	// kubectl create secret tls stores the pair as tls.crt and tls.key.
	for f, key := range map[string]string{"--cert": "tls.crt", "--key": "tls.key"} {
		file := flagValue(t, tc.Args, f)
		if path.Base(file) != key {
			t.Errorf("%s %s: a TLS Secret holds the file as %s", f, file, key)
		}
		v := volume(t, &tmpl.Spec, mountFor(t, tc, file).Name)
		if v.Secret == nil {
			t.Errorf("%s %s is not on a Secret volume", f, file)
			continue
		}
		if want := "kubectl create secret tls " + v.Secret.SecretName; !strings.Contains(readme(t), want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}
