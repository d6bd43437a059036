import fc from 'fast-check';

// Property tests run on a fixed seed so CI is reproducible; FC_SEED=<n> explores other inputs locally.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261125) });
