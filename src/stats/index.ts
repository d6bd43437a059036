/**
 * driftwatch statistics core: pure functions (no I/O) whose numbers match scipy 1.10 / numpy 1.24
 * on the same data. Inputs accept number[] or typed arrays; empty or non-finite input throws StatsInputError.
 */

export { meanOf, type RunLengthOptions, simulateRunLengths } from './arl-simulation.js';
export { mulberry32, multinomialInto, psiNoiseThreshold } from './calibration.js';
export {
  addRow,
  BASELINE_CHUNKS,
  type BaselinePca,
  baselineChunks,
  baselineHalves,
  baselinePca,
  COMOMENTS_MAX_DIM,
  type CoMoments,
  type CorrelationChange,
  type CorrelationNull,
  clipValue,
  coCorrelation,
  coCovariance,
  coMean,
  coMomentsFromVector,
  coMomentsOf,
  coMomentsToVector,
  correlationChanges,
  correlationNull,
  emptyCoMoments,
  mergeCoMoments,
  RECONSTRUCTION_ALPHA,
  type ReconstructionNull,
  reconstructionError,
  reconstructionNull,
  type Standardisation,
  secondMoment,
  standardise,
  symmetricEigen,
  triIndex,
} from './comoments.js';
export {
  type BinnedStatistic,
  type CusumOptions,
  type CusumPoint,
  type CusumSide,
  type CusumState,
  cusum,
  cusumArl,
  cusumStep,
  hForArl0,
  type NullMoments,
  nullMoments,
  type StandardiseMethod,
  siegmundArl,
  standardiseStatistic,
} from './cusum.js';
export {
  chiSquareUpperQuantile,
  gammaNormalScore,
  NORMAL_SCORE_LIMIT,
  normalQuantile,
  normalTwoSidedP,
} from './distributions.js';
export {
  type ChiSquareResult,
  chiSquareContingency,
  chiSquareSf,
  jensenShannon,
  psi,
} from './divergence.js';
export {
  type FineGrid,
  fineGrid,
  type GridCounts,
  type KsGridResult,
  ksFromGrid,
  nextUp,
  rebin,
  type WassersteinGridResult,
  wassersteinFromGrid,
} from './grid.js';
export {
  applyIsotonic,
  applyMulticlassCalibration,
  type CalibrationChoice,
  chooseCalibration,
  chooseMulticlassCalibration,
  expectedCalibrationError,
  type IsotonicMap,
  isotonicFit,
  type MulticlassCalibrationChoice,
} from './isotonic.js';
export { kstwoSf, smirnovSf } from './kolmogorov.js';
export {
  KS_MAX_AUTO_N,
  type KsMethod,
  type KsResult,
  ksPvalue,
  ksStatisticSorted,
  ksTwoSample,
} from './ks.js';
export { benjaminiHochberg } from './multiple.js';
export {
  addBinary,
  addMulticlass,
  argmax,
  type BinaryPerformanceAccumulator,
  type BinaryPerformanceEstimate,
  binaryCellEdges,
  type ClassEstimates,
  type Estimate,
  emptyBinary,
  emptyMulticlass,
  estimateBinary,
  estimateMulticlass,
  type MulticlassPerformanceAccumulator,
  type MulticlassPerformanceEstimate,
  merge,
  type PerformanceAccumulator,
  scoreCell,
} from './performance.js';
export {
  histogram,
  offEdgeCount,
  quantileEdges,
  quantileEdgesSorted,
  quantileSorted,
  upperBound,
} from './quantile.js';
export {
  addRealizedBinary,
  addRealizedMulticlass,
  emptyRealizedBinary,
  emptyRealizedMulticlass,
  mergeRealized,
  type RealizedAccumulator,
  type RealizedBinaryAccumulator,
  type RealizedClass,
  type RealizedMulticlassAccumulator,
  type RealizedPerformance,
  realizedBinary,
  realizedMulticlass,
  realizedPerformance,
} from './realized.js';
export { type NumericInput, StatsInputError } from './validate.js';
export {
  populationStd,
  WASSERSTEIN_MIN_SCALE,
  wasserstein,
  wassersteinNormed,
  wassersteinSorted,
} from './wasserstein.js';
