// The team gateway's modes, shared by gateway-bench.mjs (CPU time, req/s) and
// gateway-instr.mjs (instructions): the same binary bare, with a virtual key,
// and with a key carrying every limit (plus its ledger rows).
export const MASTER = 'sk-bench-master-0123456789abcdef0123456789';

export const gatewayModes = () => [
  { name: 'bare' },
  { name: 'keys', gateway: true, keyArgs: ['--key_alias', 'bench'] },
  { name: 'keys+limits+ledger', gateway: true,
    keyArgs: ['--key_alias', 'bench', '--rpm_limit', '100000000', '--tpm_limit', '100000000000',
      '--max_parallel_requests', '100000', '--max_budget', '1000000000', '--budget_duration', '30d'] },
];
