import { z } from 'zod';
import { typed } from '../openapi/index.js';
import type { MultivariateResult } from './joint.js';

/** The joint measures of a drift result, as the API documents them. */
export const multivariateSchema = typed<MultivariateResult>()(
  z.object({
    features: z
      .array(z.string())
      .describe('Numeric features watched jointly, standardised with the baseline.'),
    n: z.number().int(),
    missing: z.array(z.number().int()).describe('Per feature: records without a value (counted as z = 0).'),
    reconstruction: z
      .object({
        error: z
          .number()
          .describe('Mean squared distance of the standardised rows from the baseline subspace.'),
        expected: z.number(),
        sd: z.number(),
        threshold: z.number(),
        alpha: z.number(),
        explained: z.number(),
        components: z.number().int(),
        flagged: z.boolean(),
      })
      .nullable(),
    pairs: z.array(
      z.object({
        pair: z.string().describe('"a × b"'),
        a: z.string(),
        b: z.string(),
        baseline: z.number().describe("The pair's correlation in the baseline."),
        window: z.number().describe("The pair's correlation in the window."),
        delta: z.number(),
        z: z.number(),
        pvalue: z.number(),
        pvalue_adjusted: z
          .number()
          .nullable()
          .describe('In the same Benjamini–Hochberg step as the features.'),
        flagged: z.boolean(),
      }),
    ),
    pairs_tested: z.number().int(),
    flagged: z.boolean(),
  }),
);
