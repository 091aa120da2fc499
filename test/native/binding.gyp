# The test build of the addon: the targets of ../../binding.gyp with the test
# hooks compiled in (daxkit_test=1: DAXKIT_TEST, core/trace.cc,
# test_hooks.cc). scripts/test-build.ts builds it here, into
# test/native/build/, apart from the shipped build/ and never packed; tests
# load it with DAXKIT_PREBUILD=test/native (node-gyp-build's own override).
{
  "variables": { "daxkit_test": 1 },
  "includes": ["../../binding.gyp"]
}
