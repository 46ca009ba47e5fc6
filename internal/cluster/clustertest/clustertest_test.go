package clustertest

import "testing"

func TestNamePrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ test, want string }{
		{"TestApply", "testapply-"},
		{"TestApply/prune_keeps_PVCs", "testapply-prune-keeps-pvcs-"},
		{"TestX/#00", "testx-00-"},
		{"__", "test-"},
		{"TestAVeryLongNameThatGoesOnAndOnAndOnForeverAndEver", "testaverylongnamethatgoesonandonandonfor-"},
	} {
		if got := namePrefix(tc.test); got != tc.want {
			t.Errorf("namePrefix(%q) = %q, want %q", tc.test, got, tc.want)
		}
	}
}
