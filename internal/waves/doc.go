// Package waves deploys one environment to many clusters in ordered
// waves, the way an environment that outgrew one cluster (regions, cells)
// is rolled out: the same release to every cluster of a wave, health
// everywhere, a bake time, then the next wave, and a stop at the first
// failing wave.
//
// Each cluster is deployed by package apply exactly as a single-cluster
// environment is: its own Lease, ApplySet and release history, keyed by
// pipeline and environment in the environment's namespace there. The
// release (digest, manifests, version) is one for all clusters. What
// waves adds is the order and the stop:
//
//   - Prepare connects to every cluster of every wave first and checks the
//     deployment against each (apply.Prepare: kinds, namespaces, owners,
//     a server-side dry run). One unreachable cluster, or one refusal,
//     and nothing is written anywhere.
//   - Run deploys the waves in order, at most Wave.Parallelism clusters
//     of a wave at once. A cluster whose rollout fails is rolled back by
//     apply (its previous release re-applied); no further cluster of that
//     wave starts, and with RollbackWave the wave's healthy clusters are
//     rolled back too. Later waves are never touched.
//   - Between waves the finished wave bakes: the next starts once every
//     cluster of it has held the release for Wave.Bake, counted from the
//     time in each cluster's release record. A re-run therefore resumes:
//     clusters already at the release are a re-apply that records nothing
//     new, and a bake already served is not waited again.
//
// Options.Wave and Options.Cluster deploy one wave, or one cluster, of
// the environment (one CI job per wave or per cluster); the earlier waves
// are then only read, and must hold the release for their bake time.
package waves
