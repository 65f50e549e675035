package org.peft4j.qlora;

/**
 * torch's CPU float32 sum of a contiguous vector on one thread ({@code cascade_sum} in
 * aten/src/ATen/native/cpu/SumKernel.cpp, the AVX2 kernel torch dispatches sums to): vectors of 8 lanes summed by
 * {@code row_sum} (4 interleaved accumulators, each a 4-level cascade), the scalar tail, then the lanes in order;
 * fewer than 8 elements go through the scalar {@code row_sum}.
 */
final class TorchSum {
    private static final int LANES = 8;
    private static final int ILP = 4;
    private static final int LEVELS = 4;

    private TorchSum() {
    }

    static float sum(float[] x) {
        int n = x.length;
        float acc;
        if (n >= LANES) {
            int vs = n / LANES;
            float[] v = rowSumVec(x, vs);
            acc = 0f;
            for (int k = vs * LANES; k < n; k++) {
                acc += x[k];
            }
            for (int k = 0; k < LANES; k++) {
                acc += v[k];
            }
        } else {
            acc = rowSumScalar(x, n);
        }
        return 0f + acc;
    }

    private static int levelPower(int size) {
        int ceilLog2 = size <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(size - 1);
        return Math.max(4, ceilLog2 / LEVELS);
    }

    /** row_sum over vs vectors of LANES floats (vector i = x[i*8 .. i*8+7]). */
    private static float[] rowSumVec(float[] x, int vs) {
        int sizeIlp = vs / ILP;
        // multi_row_sum with nrows = ILP over sizeIlp groups; acc[level][row][lane]
        float[][][] acc = new float[LEVELS][ILP][LANES];
        int lp = levelPower(sizeIlp);
        int step = 1 << lp;
        int mask = step - 1;
        int i = 0;
        while (i + step <= sizeIlp) {
            for (int j = 0; j < step; j++, i++) {
                for (int k = 0; k < ILP; k++) {
                    addVec(acc[0][k], x, (i * ILP + k) * LANES);
                }
            }
            for (int j = 1; j < LEVELS; j++) {
                for (int k = 0; k < ILP; k++) {
                    for (int l = 0; l < LANES; l++) {
                        acc[j][k][l] += acc[j - 1][k][l];
                        acc[j - 1][k][l] = 0f;
                    }
                }
                if ((i & (mask << (j * lp))) != 0) {
                    break;
                }
            }
        }
        for (; i < sizeIlp; i++) {
            for (int k = 0; k < ILP; k++) {
                addVec(acc[0][k], x, (i * ILP + k) * LANES);
            }
        }
        for (int j = 1; j < LEVELS; j++) {
            for (int k = 0; k < ILP; k++) {
                for (int l = 0; l < LANES; l++) {
                    acc[0][k][l] += acc[j][k][l];
                }
            }
        }
        float[] p0 = acc[0][0];
        for (int v = sizeIlp * ILP; v < vs; v++) {
            addVec(p0, x, v * LANES);
        }
        for (int k = 1; k < ILP; k++) {
            for (int l = 0; l < LANES; l++) {
                p0[l] += acc[0][k][l];
            }
        }
        return p0;
    }

    private static void addVec(float[] a, float[] x, int off) {
        for (int l = 0; l < LANES; l++) {
            a[l] += x[off + l];
        }
    }

    private static float rowSumScalar(float[] x, int size) {
        int sizeIlp = size / ILP;
        float[][] acc = new float[LEVELS][ILP];
        int lp = levelPower(sizeIlp);
        int step = 1 << lp;
        int mask = step - 1;
        int i = 0;
        while (i + step <= sizeIlp) {
            for (int j = 0; j < step; j++, i++) {
                for (int k = 0; k < ILP; k++) {
                    acc[0][k] += x[i * ILP + k];
                }
            }
            for (int j = 1; j < LEVELS; j++) {
                for (int k = 0; k < ILP; k++) {
                    acc[j][k] += acc[j - 1][k];
                    acc[j - 1][k] = 0f;
                }
                if ((i & (mask << (j * lp))) != 0) {
                    break;
                }
            }
        }
        for (; i < sizeIlp; i++) {
            for (int k = 0; k < ILP; k++) {
                acc[0][k] += x[i * ILP + k];
            }
        }
        for (int j = 1; j < LEVELS; j++) {
            for (int k = 0; k < ILP; k++) {
                acc[0][k] += acc[j][k];
            }
        }
        float p0 = acc[0][0];
        for (int v = sizeIlp * ILP; v < size; v++) {
            p0 += x[v];
        }
        for (int k = 1; k < ILP; k++) {
            p0 += acc[0][k];
        }
        return p0;
    }
}
