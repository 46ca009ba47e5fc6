// Package subscription keeps subscriptions, the dynamic user data of
// pssp-api, in Redis.
//
// Unlike the static configuration, subscriptions change while the service
// runs and must survive redeployments, so they live in Redis on a persistent
// volume. A subscription is created pending by the API and queued; the
// worker takes it from the queue and decides it, recording the
// configuration revision it decided under, so every active subscription can
// be traced to the static configuration that approved it.
//
// Keys, under a prefix ("pssp:" by default):
//
//	<prefix>subscription:<id>   hash with the fields of Subscription
//	<prefix>queue               list of ids waiting for the worker (LPUSH, BRPOP)
package subscription
