// Package kubernetes holds wssbench's Kubernetes manifests for runs split over
// several machines (an Indexed Job, one shard per node). It has no code: its
// test decodes every manifest strictly into the Kubernetes API types and checks
// the fields the design relies on. It is its own module, so that wssbench's
// go.mod does not depend on k8s.io.
package kubernetes
