// Package apply puts a rendered environment into a cluster: staged
// server-side apply (field manager driftless), health with kstatus that
// fails fast, pruning by the ApplySet convention (never kinds the
// environment keeps), a release history in the namespace with automatic
// rollback, a Lease so one deployment runs per environment, and a
// server-side dry-run diff with Secret values masked.
package apply
