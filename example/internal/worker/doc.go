// Package worker decides queued subscriptions: it takes each from the queue,
// checks it against the static configuration of the running image, and marks
// it active or rejected under that configuration's revision.
//
// The check is repeated here, not only when the API accepted the request,
// because a redeployment with a different static configuration can come in
// between.
package worker
