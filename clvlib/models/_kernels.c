/* Log posterior densities and their gradients, compiled once, when clvlib is installed.
 *
 * clvlib/models/kernels.py says what each function computes and how the buffer that carries a
 * fit (priors, links, compressed rows) is laid out; this file is the arithmetic. Written in C
 * (a setuptools extension, built by `pip install`) rather than numba so that a first fit on a
 * machine does not wait for a compiler: numba compiled these kernels in every new environment
 * and after every cache loss, for 3-5 s per model (issue 14). tests/test_kernels.py holds each
 * density equal to the PyMC model's log density and gradient to 1e-10.
 *
 * The hot loops (the BG/NBD rows, the Pareto/NBD quadrature nodes) are written so that the
 * compiler vectorizes them: exp and log in plain arithmetic (exp_poly, log_poly), no branch and
 * no sum inside the vectorized pass. The entry points are compiled for several x86-64 levels
 * (target_clones: AVX-512, AVX2, baseline) and the loader picks the machine's at run time.
 *
 * Floating point: contraction into fused multiply-adds is allowed, reassociation is not (the
 * sums add in the order they are written, so a result does not depend on how a loop was
 * split), and non-finite values are kept (a NaN or an infinity shows in the status code).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 16
#define PRIOR_WIDTH 4
#define TERM_WIDTH 5
#define UNBOUNDED 6
#define CENTERED 8
#define BG_NBD 1
#define MBG_NBD 2
#define PARETO_NBD 3
#define GAMMA_GAMMA 4
#define BLOCK 256
#define PNBD_TIERS 4
#define PNBD_MOST 16
#define PNBD_TABLE 46 /* 8 + 10 + 12 + 16 nodes */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#define EXPORT __attribute__((visibility("default")))
#else
#define INLINE static inline
#define EXPORT
#endif

static const double HALF_LOG_2PI = 0.918938533204672741780329736406;
static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
static const double SQRT2 = 1.41421356237309504880;

/* The Pareto/NBD quadrature rules (kernels.PNBD_TIER_*), set once by clv_set_tables. */
static double pnbd_half[PNBD_TABLE], pnbd_log_weights[PNBD_TABLE];
static double pnbd_specs[4][PNBD_TIERS]; /* nodes, rate, reach, start */
static double pnbd_cutoff = -1.0;

INLINE double bits_float(int64_t i) { double d; memcpy(&d, &i, sizeof d); return d; }
INLINE int64_t float_bits(double d) { int64_t i; memcpy(&i, &d, sizeof i); return i; }
INLINE double maxd(double a, double b) { return a > b ? a : b; } /* Python's max(a, b) */
INLINE double mind(double a, double b) { return a < b ? a : b; }
INLINE double lgam(double x) { int sign; return lgamma_r(x, &sign); }

/* e^x for x in [-708, 709] (beyond, e^-708 or e^709); NaN stays NaN. fdlibm's algorithm:
 * Cody-Waite reduction, then Taylor to r^13 (exact in float64 for |r| <= log(2) / 2). */
INLINE double exp_poly(double x) {
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    double n = floor(x * 1.4426950408889634 + 0.5);
    double r = (x - n * LN2_HI) - n * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double finite_n = n == n ? n : 0.0; /* NaN: p is NaN already */
    return p * bits_float((int64_t)((uint64_t)((int64_t)finite_n + 1023) << 52));
}

/* log x for a positive, finite, normal x (the kernels' 1 + c e^u and 1 + e^-|z|). */
INLINE double log_poly(double x) {
    int64_t bits = float_bits(x);
    int64_t k = (bits >> 52) - 1023;
    double m = bits_float((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);
    int big = m > SQRT2;
    m = big ? 0.5 * m : m;
    k = big ? k + 1 : k;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                                    + w * 1.531383769920937332e-01));
    double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    double hfsq = 0.5 * f * f;
    double dk = (double)k;
    return dk * LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + dk * LN2_LO)) - f);
}

/* psi(x) for x > 0: the recurrence up to x >= 10, then the asymptotic series (1e-15). */
INLINE double digamma(double x) {
    double result = 0.0;
    while (x < 10.0) {
        result -= 1.0 / x;
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    double series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (
        1.0 / 132 - f * (691.0 / 32760 - f / 12.0))))));
    return result + log(x) - 0.5 / x - series;
}

/* Log prior and its derivative in the unconstrained y (kernels.PRIOR_KINDS; see _prior in
 * kernels.py for the parametrisation). */
static double prior(int kind, double p1, double p2, double y, int jacobian, double *dlogp) {
    if (kind == 6) { /* Normal(mu=p1, sigma=p2) on the real line */
        double z = (y - p1) / p2;
        *dlogp = -z / p2;
        return -log(p2) - HALF_LOG_2PI - 0.5 * z * z;
    }
    if (kind == 7) { /* Flat */
        *dlogp = 0.0;
        return 0.0;
    }
    double e = exp(y), logp, d;
    if (kind == 0) { /* HalfFlat */
        logp = 0.0; d = 0.0;
    } else if (kind == 1) { /* LogNormal(mu=p1, sigma=p2) */
        double z = (y - p1) / p2;
        logp = -y - log(p2) - HALF_LOG_2PI - 0.5 * z * z;
        d = -1.0 - z / p2;
    } else if (kind == 2) { /* Gamma(alpha=p1, beta=p2) */
        logp = p1 * log(p2) - lgam(p1) + (p1 - 1) * y - p2 * e;
        d = (p1 - 1) - p2 * e;
    } else if (kind == 3) { /* Exponential(lam=p1) */
        logp = log(p1) - p1 * e;
        d = -p1 * e;
    } else if (kind == 4) { /* HalfNormal(sigma=p1) */
        double q = e / p1;
        logp = 0.5 * log(2 / M_PI) - log(p1) - 0.5 * q * q;
        d = -(q * q);
    } else { /* Weibull(alpha=p1, beta=p2) */
        double power = pow(e / p2, p1);
        logp = log(p1) - p1 * log(p2) + (p1 - 1) * y - power;
        d = (p1 - 1) - p1 * power;
    }
    if (jacobian) {
        logp += y;
        d += 1.0;
    }
    *dlogp = d;
    return logp;
}

/* The buffer's data arrays from offset o (kernels.py's docstring has the layout). */
typedef struct {
    const double *xs, *xp, *xw, *x, *xi, *c1, *c2, *w, *starts, *u, *up, *v, *vp;
} Data;

INLINE Data unpack(const double *buf, int64_t o, int64_t n_rows, int64_t n_x, int64_t n_u,
                   int64_t n_v, int64_t n_pat) {
    Data d;
    d.xs = buf + o; d.xp = buf + o + n_x; d.xw = buf + o + 2 * n_x;
    o += 3 * n_x;
    d.x = buf + o; d.xi = buf + o + n_rows; d.c1 = buf + o + 2 * n_rows;
    d.c2 = buf + o + 3 * n_rows; d.w = buf + o + 4 * n_rows;
    o += 5 * n_rows;
    d.starts = buf + o;
    o += n_pat + 1;
    d.u = buf + o; d.up = buf + o + n_u;
    o += 2 * n_u;
    d.v = buf + o; d.vp = buf + o + n_v;
    return d;
}

/* What every density starts from (kernels._variables in words): the log prior, its gradient in
 * grad, the variables th and their derivatives dth, each pattern's P = theta exp(eta) and a
 * zeroed G. Scratch: th, dth (n each), eta, P, G (4 n_pat each). */
typedef struct {
    int64_t n, n_params, n_pat, n_terms, data;
    double *th, *dth, *eta, *P, *G;
} Vars;

static double variables(const double *y, const double *buf, double *grad, double *scratch,
                        Vars *v) {
    int jacobian = buf[2] > 0;
    int64_t n = (int64_t)buf[1], n_params = (int64_t)buf[10], n_pat = (int64_t)buf[11];
    int64_t n_terms = (int64_t)buf[12];
    v->n = n; v->n_params = n_params; v->n_pat = n_pat; v->n_terms = n_terms;
    v->th = scratch; v->dth = scratch + n; v->eta = scratch + 2 * n;
    v->P = v->eta + 4 * n_pat; v->G = v->P + 4 * n_pat;
    double *th = v->th, *dth = v->dth;
    double logp = 0.0;
    for (int64_t j = 0; j < n; j++) {
        int64_t b = HEADER + PRIOR_WIDTH * j;
        int kind = (int)buf[b];
        if (kind >= UNBOUNDED) {
            th[j] = y[j];
            dth[j] = 1.0;
        } else {
            dth[j] = exp(y[j]);
            th[j] = buf[b + 3] + dth[j];
        }
        if (kind == CENTERED) {
            int64_t c = (int64_t)buf[b + 1]; /* sigma's coordinate, before this one */
            double z = y[j] / th[c];
            logp -= log(th[c]) + HALF_LOG_2PI + 0.5 * z * z;
            grad[j] = -z / th[c];
            grad[c] += (z * z - 1.0) / th[c] * dth[c];
            continue;
        }
        double dlp;
        logp += prior(kind, buf[b + 1], buf[b + 2], y[j], jacobian, &dlp);
        grad[j] = dlp;
    }
    int64_t o = HEADER + PRIOR_WIDTH * n;
    memset(v->eta, 0, sizeof(double) * 4 * n_pat);
    for (int64_t t = 0; t < n_terms; t++) {
        int64_t b = o + TERM_WIDTH * t;
        double term = buf[b + 4] * th[(int64_t)buf[b + 2]];
        if (buf[b + 3] >= 0) term *= th[(int64_t)buf[b + 3]];
        v->eta[4 * (int64_t)buf[b] + (int64_t)buf[b + 1]] += term;
    }
    memset(v->P, 0, sizeof(double) * 4 * n_pat);
    memset(v->G, 0, sizeof(double) * 4 * n_pat);
    for (int64_t p = 0; p < n_pat; p++)
        for (int64_t j = 0; j < n_params; j++)
            v->P[4 * p + j] = th[j] * exp(v->eta[4 * p + j]);
    v->data = o + TERM_WIDTH * n_terms;
    return logp;
}

/* The likelihood's gradient G (in each pattern's parameters) carried to grad (in y), through
 * the links. Scratch: n numbers. */
static void unlink_gradient(const Vars *v, const double *buf, double *grad, double *d) {
    int64_t n = v->n;
    memset(d, 0, sizeof(double) * n);
    for (int64_t p = 0; p < v->n_pat; p++) {
        for (int64_t j = 0; j < v->n_params; j++) {
            d[j] += v->G[4 * p + j] * exp(v->eta[4 * p + j]);
            v->G[4 * p + j] *= v->P[4 * p + j]; /* now the gradient in eta */
        }
    }
    int64_t o = HEADER + PRIOR_WIDTH * n;
    for (int64_t t = 0; t < v->n_terms; t++) {
        int64_t b = o + TERM_WIDTH * t;
        double g = v->G[4 * (int64_t)buf[b] + (int64_t)buf[b + 1]] * buf[b + 4];
        int64_t c1 = (int64_t)buf[b + 2], c2 = (int64_t)buf[b + 3];
        if (c2 >= 0) {
            d[c1] += g * v->th[c2];
            d[c2] += g * v->th[c1];
        } else {
            d[c1] += g;
        }
    }
    for (int64_t j = 0; j < n; j++) grad[j] += d[j] * v->dth[j];
}

/* BG/NBD (modified 0) or MBG/NBD log-likelihood of the rows; its gradient in each pattern's
 * P[p] = (r, alpha, a, b) goes to G. Scratch: 2 n_x + 2 n_u + 2 n_v + 6 BLOCK numbers. */
INLINE double bg_nbd(const double *P, const double *buf, int64_t o, int64_t n_rows,
                     int64_t n_x, int64_t n_u, int64_t n_v, int modified, double *G,
                     int64_t n_pat, double *scratch) {
    Data D = unpack(buf, o, n_rows, n_x, n_u, n_v, n_pat);
    double extra = modified ? 1.0 : 0.0;
    double ll = 0.0;
    double *log_bx = scratch, *inv_bx = scratch + n_x;
    double *log_u = inv_bx + n_x, *inv_u = log_u + n_u, *log_v = inv_u + n_u;
    double *inv_v = log_v + n_v;
    double *alive_b = inv_v + n_v, *dropped_b = alive_b + BLOCK, *two_b = dropped_b + BLOCK;
    double *term_b = two_b + BLOCK, *wd_b = term_b + BLOCK, *wa_b = wd_b + BLOCK;
    int64_t k = 0; /* the (pattern, x) pairs come sorted by pattern */
    for (int64_t p = 0; p < n_pat; p++) {
        double r = P[4 * p], alpha = P[4 * p + 1], a = P[4 * p + 2], b = P[4 * p + 3];
        double log_alpha = log(alpha);
        double lg_r = lgam(r), lg_ab = lgam(a + b), lg_b = lgam(b);
        double psi_r = digamma(r), psi_ab = digamma(a + b), psi_b = digamma(b);
        double g_r = 0.0, g_alpha = 0.0, g_a = 0.0, g_b = 0.0;
        while (k < n_x && (int64_t)D.xp[k] == p) {
            double xk = D.xs[k], wk = D.xw[k];
            double psi_abx = digamma(a + b + xk + extra);
            ll += wk * (lgam(r + xk) - lg_r + r * log_alpha + lg_ab + lgam(b + xk) - lg_b
                        - lgam(a + b + xk + extra));
            g_r += wk * (digamma(r + xk) - psi_r + log_alpha);
            g_alpha += wk * r / alpha;
            g_a += wk * (psi_ab - psi_abx);
            g_b += wk * (psi_ab + digamma(b + xk) - psi_b - psi_abx);
            double bx = modified ? b + xk : b + maxd(xk, 1.0) - 1.0;
            log_bx[k] = log(bx);
            inv_bx[k] = 1.0 / bx;
            k++;
        }
        G[4 * p] += g_r;
        G[4 * p + 1] += g_alpha;
        G[4 * p + 2] += g_a;
        G[4 * p + 3] += g_b;
    }
    for (int64_t j = 0; j < n_u; j++) {
        double au = P[4 * (int64_t)D.up[j] + 1] + D.u[j];
        log_u[j] = log(au);
        inv_u[j] = 1.0 / au;
    }
    for (int64_t j = 0; j < n_v; j++) {
        double av = P[4 * (int64_t)D.vp[j] + 1] + D.v[j];
        log_v[j] = log(av);
        inv_v[j] = 1.0 / av;
    }
    /* The row loop in blocks: gather each row's logarithms, then a pass the compiler vectorizes
     * (one exp, one log and one division per row, both branches computed, then chosen), then
     * the sums in row order. Rows come sorted by pattern. */
    for (int64_t p = 0; p < n_pat; p++) {
        double r = P[4 * p], la = log(P[4 * p + 2]);
        double g_r = 0.0, g_alpha = 0.0, g_drop = 0.0, g_b = 0.0;
        int64_t end = (int64_t)D.starts[p + 1];
        for (int64_t first = (int64_t)D.starts[p]; first < end; first += BLOCK) {
            int64_t n = end - first < BLOCK ? end - first : BLOCK;
            for (int64_t j = 0; j < n; j++) {
                int64_t i = first + j;
                double rx = r + D.x[i];
                int64_t kk = (int64_t)D.xi[i];
                alive_b[j] = -rx * log_v[(int64_t)D.c2[i]] + (modified ? log_bx[kk] : 0.0);
                dropped_b[j] = la - rx * log_u[(int64_t)D.c1[i]] - (modified ? 0.0 : log_bx[kk]);
                two_b[j] = (modified || D.x[i] > 0) ? 1.0 : 0.0;
            }
            for (int64_t j = 0; j < n; j++) {
                double alive = alive_b[j], dropped = dropped_b[j];
                double z = dropped - alive;
                double ez = exp_poly(-fabs(z));
                double share = 1.0 / (1.0 + ez); /* of the larger branch */
                int two = two_b[j] > 0.0;
                term_b[j] = two ? maxd(dropped, alive) + log_poly(1.0 + ez) : alive;
                wd_b[j] = two ? (z > 0 ? share : ez * share) : 0.0;
                wa_b[j] = two ? (z > 0 ? ez * share : share) : 1.0;
            }
            for (int64_t j = 0; j < n; j++) {
                int64_t i = first + j;
                double wi = D.w[i], w_drop = wd_b[j], w_alive = wa_b[j];
                int64_t kk = (int64_t)D.xi[i], iu = (int64_t)D.c1[i], iv = (int64_t)D.c2[i];
                ll += wi * term_b[j];
                g_r -= wi * (w_alive * log_v[iv] + w_drop * log_u[iu]);
                g_alpha -= wi * (r + D.x[i]) * (w_alive * inv_v[iv] + w_drop * inv_u[iu]);
                g_drop += wi * w_drop;
                g_b += wi * (modified ? w_alive : -w_drop) * inv_bx[kk];
            }
        }
        G[4 * p] += g_r;
        G[4 * p + 1] += g_alpha;
        G[4 * p + 2] += g_drop / P[4 * p + 2];
        G[4 * p + 3] += g_b;
    }
    return ll;
}

/* A Pareto/NBD row's quadrature rule (the fewest nodes that keep the 16-node precision: how
 * many, where it starts in the tables) and the integrand's largest log on [u_low, 0]. */
INLINE void pnbd_rule(double k, double e, double c, double inv_1c, double l1c, double u_low,
                      double width, double log_gap, double lm_tx, int64_t *nodes,
                      int64_t *first, double *high) {
    double rate = maxd(k, e * c * inv_1c) * width;
    double reach2;
    if (c > 0) {
        double q = width - 2.0 * (log_gap - lm_tx);
        reach2 = q * q + 4.0 * M_PI * M_PI;
    } else {
        reach2 = INFINITY;
    }
    int tier = 0;
    while (tier < 3 && !(rate <= pnbd_specs[1][tier]
                         && reach2 >= (pnbd_specs[2][tier] * width) * (pnbd_specs[2][tier] * width)))
        tier++;
    if (c > 0 && k * (1.0 + c) < e * c) {
        double u_star = maxd(log(k / ((e - k) * c)), u_low);
        *high = k * u_star - e * log1p(c * exp(u_star));
    } else {
        *high = -e * l1c; /* at u = 0 */
    }
    *nodes = (int64_t)pnbd_specs[0][tier];
    *first = (int64_t)pnbd_specs[3][tier];
}

/* Pareto/NBD log-likelihood of the rows and its gradient in each pattern's P[p] = (r, alpha,
 * s, beta), differentiated through the quadrature. Scratch: 2 n_u + 6 n_v + 4 PNBD_MOST. */
INLINE double pareto_nbd(const double *P, const double *buf, int64_t o, int64_t n_rows,
                         int64_t n_x, int64_t n_u, int64_t n_v, double *G, int64_t n_pat,
                         double *scratch) {
    Data D = unpack(buf, o, n_rows, n_x, n_u, n_v, n_pat);
    double ll = 0.0;
    int64_t k0 = 0;
    for (int64_t p = 0; p < n_pat; p++) {
        double r = P[4 * p], alpha = P[4 * p + 1], s = P[4 * p + 2], beta = P[4 * p + 3];
        double lg_r = lgam(r), psi_r = digamma(r);
        double log_alpha = log(alpha), log_beta = log(beta);
        while (k0 < n_x && (int64_t)D.xp[k0] == p) {
            double xk = D.xs[k0], wk = D.xw[k0];
            ll += wk * (lgam(r + xk) - lg_r + r * log_alpha + s * log_beta);
            G[4 * p] += wk * (digamma(r + xk) - psi_r + log_alpha);
            G[4 * p + 1] += wk * r / alpha;
            G[4 * p + 2] += wk * log_beta;
            G[4 * p + 3] += wk * s / beta;
            k0++;
        }
    }
    const double *half = pnbd_half, *log_weights = pnbd_log_weights;
    double *log_m_u = scratch, *inv_m_u = scratch + n_u;
    double *la_v = inv_m_u + n_u, *lb_v = la_v + n_v, *lm_v = lb_v + n_v;
    double *ia_v = lm_v + n_v, *ib_v = ia_v + n_v, *im_v = ib_v + n_v;
    double *node_t = im_v + n_v, *node_u = node_t + PNBD_MOST, *node_l = node_u + PNBD_MOST;
    double *node_q = node_l + PNBD_MOST;
    for (int64_t j = 0; j < n_u; j++) {
        int64_t p = 4 * (int64_t)D.up[j];
        double m_tx = mind(P[p + 1], P[p + 3]) + D.u[j];
        log_m_u[j] = log(m_tx);
        inv_m_u[j] = 1.0 / m_tx;
    }
    for (int64_t j = 0; j < n_v; j++) {
        int64_t p = 4 * (int64_t)D.vp[j];
        double a_T = P[p + 1] + D.v[j], b_T = P[p + 3] + D.v[j];
        la_v[j] = log(a_T); lb_v[j] = log(b_T); ia_v[j] = 1.0 / a_T; ib_v[j] = 1.0 / b_T;
        lm_v[j] = mind(la_v[j], lb_v[j]);
        im_v[j] = maxd(ia_v[j], ib_v[j]);
    }
    for (int64_t p = 0; p < n_pat; p++) {
        double r = P[4 * p], alpha = P[4 * p + 1], s = P[4 * p + 2], beta = P[4 * p + 3];
        double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0;
        int alpha_le_beta = alpha <= beta;
        double gap = fabs(alpha - beta);
        double log_gap = gap > 0 ? log(gap) : -INFINITY;
        double log_s = log(s), inv_s = 1.0 / s;
        double dm1 = alpha_le_beta ? 1.0 : 0.0, de2 = dm1; /* m = alpha, e = s + 1 */
        double dm3 = 1.0 - dm1, de0 = dm3;                 /* m = beta, e = r + x */
        for (int64_t i = (int64_t)D.starts[p]; i < (int64_t)D.starts[p + 1]; i++) {
            double xk = D.x[i], wi = D.w[i];
            int64_t iu = (int64_t)D.c1[i], iv = (int64_t)D.c2[i];
            double rx = r + xk;
            double k = r + s + xk;
            double inv_k = 1.0 / k;
            double la_T = la_v[iv], lb_T = lb_v[iv];
            double alive = -rx * la_T - s * lb_T;
            double e = alpha_le_beta ? s + 1.0 : rx;
            double lm_tx = log_m_u[iu], inv_mtx = inv_m_u[iu];
            double c = gap * inv_mtx;
            double l1c = log1p(c);
            double inv_1c = 1.0 / (1.0 + c);
            double dc1, dc3;
            if (alpha_le_beta) {
                dc1 = -(1.0 + c) * inv_mtx;
                dc3 = inv_mtx;
            } else {
                dc1 = inv_mtx;
                dc3 = -(1.0 + c) * inv_mtx;
            }
            double u_T = lm_tx - lm_v[iv];
            /* The cut -(L + e log(1+c)) / k and its derivatives by r, alpha, s, beta. */
            double reach = pnbd_cutoff + e * l1c;
            double cut = -reach * inv_k;
            double u_low, du0, du1, du2, du3;
            if (u_T >= cut) {
                u_low = u_T;
                du0 = du2 = 0.0;
                du1 = dm1 * (inv_mtx - im_v[iv]);
                du3 = dm3 * (inv_mtx - im_v[iv]);
            } else {
                u_low = cut;
                double dk = reach * inv_k * inv_k, de = l1c * inv_k;
                du0 = dk - de0 * de;
                du2 = dk - de2 * de;
                du1 = -e * inv_k * dc1 * inv_1c;
                du3 = -e * inv_k * dc3 * inv_1c;
            }
            double width = -u_low;
            int clipped = width < 1e-12;
            if (clipped) width = 1e-12;
            int64_t nodes, first;
            double high;
            pnbd_rule(k, e, c, inv_1c, l1c, u_low, width, log_gap, lm_tx, &nodes, &first, &high);
            for (int64_t j = 0; j < nodes; j++) {
                double h = half[first + j];
                double uj = u_low * h;
                double eu = exp_poly(uj);
                double y = 1.0 + c * eu;
                double lp = log_poly(y);
                double t = exp_poly(log_weights[first + j] + k * uj - e * lp - high);
                node_t[j] = t; node_u[j] = uj; node_l[j] = lp; node_q[j] = eu / y;
            }
            double total = 0.0, s_u = 0.0, s_h = 0.0, s_l = 0.0, s_q = 0.0, s_qh = 0.0;
            for (int64_t j = 0; j < nodes; j++) {
                double t = node_t[j], h = half[first + j];
                total += t;
                s_u += t * node_u[j];
                s_h += t * h;
                s_l += t * node_l[j];
                s_q += t * node_q[j];
                s_qh += t * node_q[j] * h;
            }
            s_qh *= c;
            double inv_total = 1.0 / total;
            s_u *= inv_total; s_h *= inv_total; s_l *= inv_total; s_q *= inv_total;
            s_qh *= inv_total;
            double integral_term = log_s - k * lm_tx + high + log(0.5 * width * total);
            double z = integral_term - alive;
            double ez = exp(-fabs(z));
            double share = 1.0 / (1.0 + ez);
            double term, w_int, w_alive;
            if (z > 0) {
                term = integral_term + log1p(ez); w_int = share; w_alive = ez * share;
            } else {
                term = alive + log1p(ez); w_int = ez * share; w_alive = share;
            }
            ll += wi * term;
            double inv_width = clipped ? 0.0 : 1.0 / width;
            double d_u = k * s_h - e * s_qh - inv_width;
            double d_k = s_u - lm_tx;
            double d0 = d_k + d_u * du0 - s_l * de0;
            double d1 = d_u * du1 - e * s_q * dc1 - k * dm1 * inv_mtx;
            double d2 = d_k + d_u * du2 - s_l * de2 + inv_s;
            double d3 = d_u * du3 - e * s_q * dc3 - k * dm3 * inv_mtx;
            acc0 += wi * (w_int * d0 - w_alive * la_T);
            acc1 += wi * (w_int * d1 - w_alive * rx * ia_v[iv]);
            acc2 += wi * (w_int * d2 - w_alive * lb_T);
            acc3 += wi * (w_int * d3 - w_alive * s * ib_v[iv]);
        }
        G[4 * p] += acc0;
        G[4 * p + 1] += acc1;
        G[4 * p + 2] += acc2;
        G[4 * p + 3] += acc3;
    }
    return ll;
}

/* Gamma-Gamma log-likelihood of the rows and its gradient in each pattern's P[p] = (p, q,
 * gamma); the buffer's c1 holds m (each customer's mean spend). */
INLINE double gamma_gamma(const double *P, const double *buf, int64_t o, int64_t n_rows,
                          int64_t n_x, double *G, double sum_wx_log_m, double sum_w_log_m,
                          int64_t n_pat) {
    Data D = unpack(buf, o, n_rows, n_x, 0, 0, n_pat);
    const double *m = D.c1;
    double ll = P[0] * sum_wx_log_m - sum_w_log_m;
    G[0] += sum_wx_log_m;
    int64_t k = 0;
    for (int64_t g = 0; g < n_pat; g++) {
        double p = P[4 * g], q = P[4 * g + 1], gam = P[4 * g + 2];
        double log_gam = log(gam), lg_q = lgam(q), psi_q = digamma(q);
        double g_p = 0.0, g_q = 0.0, g_g = 0.0;
        while (k < n_x && (int64_t)D.xp[k] == g) {
            double xk = D.xs[k], wk = D.xw[k];
            double px = p * xk;
            double psi_pxq = digamma(px + q);
            ll += wk * (lgam(px + q) - lgam(px) - lg_q + q * log_gam + px * log(xk));
            g_p += wk * xk * (psi_pxq - digamma(px) + log(xk));
            g_q += wk * (psi_pxq - psi_q + log_gam);
            g_g += wk * q / gam;
            k++;
        }
        for (int64_t i = (int64_t)D.starts[g]; i < (int64_t)D.starts[g + 1]; i++) {
            double xk = D.x[i], wi = D.w[i];
            double px = p * xk;
            double spend = gam + xk * m[i];
            double log_spend = log(spend);
            ll -= wi * (px + q) * log_spend;
            g_p -= wi * xk * log_spend;
            g_q -= wi * log_spend;
            g_g -= wi * (px + q) / spend;
        }
        G[4 * g] += g_p;
        G[4 * g + 1] += g_q;
        G[4 * g + 2] += g_g;
    }
    return ll;
}

/* One model's log posterior density at y, its gradient into grad; nutpie's status code:
 * 0 fine, 3 a gradient that is not finite, 4 a log density that is not, -1 a point of another
 * dimension, -2 no memory for the scratch arrays. */
INLINE int64_t density(int model, uint64_t dim, const double *y, double *grad, double *logp_,
                       const double *buf) {
    if ((int64_t)dim != (int64_t)buf[1]) return -1;
    int64_t n = (int64_t)buf[1], n_rows = (int64_t)buf[4], n_x = (int64_t)buf[5];
    int64_t n_u = (int64_t)buf[6], n_v = (int64_t)buf[7], n_pat = (int64_t)buf[11];
    int64_t need = 3 * n + 12 * n_pat;
    if (model == BG_NBD || model == MBG_NBD)
        need += 2 * n_x + 2 * n_u + 2 * n_v + 6 * BLOCK;
    else if (model == PARETO_NBD)
        need += 2 * n_u + 6 * n_v + 4 * PNBD_MOST;
    double *scratch = malloc(sizeof(double) * (size_t)need);
    if (scratch == NULL) return -2;
    Vars v;
    double logp = variables(y, buf, grad, scratch, &v);
    double *rest = scratch + 2 * n + 12 * n_pat, *d = rest;
    double *kernel_scratch = rest + n;
    if (model == BG_NBD || model == MBG_NBD)
        logp += bg_nbd(v.P, buf, v.data, n_rows, n_x, n_u, n_v, model == MBG_NBD, v.G, n_pat,
                       kernel_scratch);
    else if (model == PARETO_NBD)
        logp += pareto_nbd(v.P, buf, v.data, n_rows, n_x, n_u, n_v, v.G, n_pat, kernel_scratch);
    else
        logp += gamma_gamma(v.P, buf, v.data, n_rows, n_x, v.G, buf[8], buf[9], n_pat);
    unlink_gradient(&v, buf, grad, d);
    free(scratch);
    *logp_ = logp;
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(grad[j])) return 3;
    return isfinite(logp) ? 0 : 4;
}

/* nutpie's log-density callbacks, one per model: (dim, point, gradient out, log density out,
 * the fit's buffer). */
CLONES EXPORT int64_t clv_logp_bg_nbd(uint64_t dim, const double *y, double *grad,
                                      double *logp, void *data) {
    return density(BG_NBD, dim, y, grad, logp, (const double *)data);
}

CLONES EXPORT int64_t clv_logp_mbg_nbd(uint64_t dim, const double *y, double *grad,
                                       double *logp, void *data) {
    return density(MBG_NBD, dim, y, grad, logp, (const double *)data);
}

CLONES EXPORT int64_t clv_logp_pareto_nbd(uint64_t dim, const double *y, double *grad,
                                          double *logp, void *data) {
    return density(PARETO_NBD, dim, y, grad, logp, (const double *)data);
}

EXPORT int64_t clv_logp_gamma_gamma(uint64_t dim, const double *y, double *grad, double *logp,
                                    void *data) {
    return density(GAMMA_GAMMA, dim, y, grad, logp, (const double *)data);
}

/* nutpie's callback that turns an unconstrained point into the variables' values. */
EXPORT int64_t clv_expand(uint64_t dim, uint64_t n_expanded, const double *x, double *out,
                          void *data) {
    const double *buf = (const double *)data;
    if ((int64_t)dim != (int64_t)buf[1] || n_expanded != dim) return -1;
    for (uint64_t j = 0; j < dim; j++) {
        int64_t b = HEADER + PRIOR_WIDTH * (int64_t)j;
        out[j] = buf[b] >= UNBOUNDED ? x[j] : buf[b + 3] + exp(x[j]);
        if (buf[b] == CENTERED) out[j] = x[j] / out[(int64_t)buf[b + 1]]; /* z = e / sigma */
    }
    return 0;
}

/* -- Per-row log-likelihoods (model comparison: PSIS-LOO, the holdout density) ------------- */

INLINE double bg_nbd_head(double r, double alpha, double a, double b, double x, int modified) {
    double extra = modified ? 1.0 : 0.0;
    return (lgam(r + x) - lgam(r) + r * log(alpha) + lgam(a + b) + lgam(b + x) - lgam(b)
            - lgam(a + b + x + extra));
}

INLINE double bg_nbd_row(double r, double alpha, double a, double b, double x, double t_x,
                         double T, int modified) {
    double rx = r + x;
    double log_bx = log(modified ? b + x : b + maxd(x, 1.0) - 1.0);
    double alive = -rx * log(alpha + T) + (modified ? log_bx : 0.0);
    if (!(modified || x > 0)) return alive;
    double dropped = log(a) - rx * log(alpha + t_x) - (modified ? 0.0 : log_bx);
    return maxd(dropped, alive) + log1p(exp(-fabs(dropped - alive)));
}

INLINE double pareto_nbd_head(double r, double alpha, double s, double beta, double x) {
    return lgam(r + x) - lgam(r) + r * log(alpha) + s * log(beta);
}

INLINE double pareto_nbd_row(double r, double alpha, double s, double beta, double x,
                             double t_x, double T, double *terms) {
    double rx = r + x, k = r + s + x;
    double alive = -rx * log(alpha + T) - s * log(beta + T);
    double m = mind(alpha, beta);
    double e = alpha <= beta ? s + 1.0 : rx;
    double gap = fabs(alpha - beta);
    double log_gap = gap > 0 ? log(gap) : -INFINITY;
    double lm_tx = log(m + t_x);
    double c = gap / (m + t_x);
    double l1c = log1p(c);
    double u_low = maxd(lm_tx - log(m + T), -(pnbd_cutoff + e * l1c) / k);
    double width = maxd(-u_low, 1e-12);
    int64_t nodes, first;
    double high;
    pnbd_rule(k, e, c, 1.0 / (1.0 + c), l1c, u_low, width, log_gap, lm_tx, &nodes, &first,
              &high);
    for (int64_t j = 0; j < nodes; j++) {
        double uj = u_low * pnbd_half[first + j];
        double lp = log_poly(1.0 + c * exp_poly(uj));
        terms[j] = exp_poly(pnbd_log_weights[first + j] + k * uj - e * lp - high);
    }
    double total = 0.0;
    for (int64_t j = 0; j < nodes; j++) total += terms[j];
    double integral = log(s) - k * lm_tx + high + log(0.5 * width * total);
    return maxd(integral, alive) + log1p(exp(-fabs(integral - alive)));
}

/* out[d, i]: row i's log-likelihood under draw d (params[d] = 4 numbers), for BG/NBD,
 * MBG/NBD or Pareto/NBD; at[i] is the index of x[i] among the distinct values, whose heads are
 * computed once per draw. Returns -2 without memory, else 0. Runs without Python's lock, so
 * that threads may split the draws. */
CLONES EXPORT int64_t clv_pointwise_loglik(int64_t model, int64_t n_draws, const double *params,
                                           int64_t n_values, const double *values,
                                           const int64_t *at, int64_t n_rows, const double *x,
                                           const double *t_x, const double *T, double *out) {
    double *heads = malloc(sizeof(double) * (size_t)(n_values > 0 ? n_values : 1));
    if (heads == NULL) return -2;
    double terms[PNBD_MOST];
    int pareto = model == PARETO_NBD, modified = model == MBG_NBD;
    for (int64_t d = 0; d < n_draws; d++) {
        double p0 = params[4 * d], p1 = params[4 * d + 1], p2 = params[4 * d + 2];
        double p3 = params[4 * d + 3];
        for (int64_t j = 0; j < n_values; j++)
            heads[j] = pareto ? pareto_nbd_head(p0, p1, p2, p3, values[j])
                              : bg_nbd_head(p0, p1, p2, p3, values[j], modified);
        for (int64_t i = 0; i < n_rows; i++)
            out[d * n_rows + i] = heads[at[i]] + (
                pareto ? pareto_nbd_row(p0, p1, p2, p3, x[i], t_x[i], T[i], terms)
                       : bg_nbd_row(p0, p1, p2, p3, x[i], t_x[i], T[i], modified));
    }
    free(heads);
    return 0;
}

/* The Pareto/NBD rules: the tiers' nodes mapped to [0, 1] (half) and log weights, 46 each in
 * tier order; specs, 4 x 4 row-major: nodes, rate, reach, start per tier; the cut-off. Returns
 * 0, or -1 when the tables do not have the size this file was written for. */
EXPORT int64_t clv_set_tables(int64_t n, const double *half, const double *log_weights,
                              const double *specs, double cutoff) {
    if (n != PNBD_TABLE) return -1;
    memcpy(pnbd_half, half, sizeof pnbd_half);
    memcpy(pnbd_log_weights, log_weights, sizeof pnbd_log_weights);
    memcpy(pnbd_specs, specs, sizeof pnbd_specs);
    pnbd_cutoff = cutoff;
    return 0;
}

/* exp_poly and log_poly over an array, for the tests (a non-positive x gets a NaN log). */
EXPORT void clv_exp_log_poly(int64_t n, const double *x, double *exp_out, double *log_out) {
    for (int64_t i = 0; i < n; i++) {
        exp_out[i] = exp_poly(x[i]);
        log_out[i] = x[i] > 0 ? log_poly(x[i]) : NAN;
    }
}

#ifndef CLV_SOURCE_SHA256
#define CLV_SOURCE_SHA256 ""
#endif

/* The SHA-256 of the C file this library was built from (setup.py passes it). */
EXPORT const char *clv_source_sha256(void) { return CLV_SOURCE_SHA256; }

/* A module Python can import (it has no Python functions): clvlib.models.kernels loads this
 * file with ctypes and hands the callbacks' addresses to nutpie. */
static struct PyModuleDef kernels_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_kernels",
    .m_doc = "clvlib's compiled log densities (loaded with ctypes by clvlib.models.kernels).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&kernels_module); }
