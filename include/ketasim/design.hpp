#pragma once
// Designs: point sources addressed by index. A design maps point i (0-based) to one value per
// factor, computed from i alone (nothing materialized, O(factors) memory), so any index range,
// thread count, shard or MPI rank gives the same points. Full grids (mixed-radix decode), Latin
// hypercubes (hash-permuted strata, jitter from a RandomStream keyed by the point index) and Sobol
// sequences (Joe-Kuo direction numbers, random access through the Gray code), each factor mapped
// through its distribution's inverse CDF. Conventions: docs/sensitivity.md.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ketasim {

struct Model;

// ---- distributions ----------------------------------------------------------------------------

enum class DistributionKind { uniform, log_uniform, normal, lognormal, choice };
// The kind's name as design strings spell it ("loguniform"): the one spelling for messages,
// Python's Factor.kind and files.
const char* to_string(DistributionKind k);

// One factor's distribution, in the factor's unit (a model parameter's file unit, kg, years, mg).
// uniform, log_uniform: a = lower, b = upper (the support; log_uniform needs 0 < a).
// normal: a = mean, b = sd. lognormal: a = median, b = cv, with the exact log-normal convention
// sd(log X) = sqrt(log(1 + cv^2)) (as the covariate distributions of docs/populations.md).
// normal and lognormal may be truncated to [lower, upper]: the inverse CDF is taken on the
// truncated range (no redraws), so a design point stays a function of its index.
// choice: one of `choices` (k names, each equally likely): u in [0, 1) maps to index
// floor(u k) (u = 1 to k - 1), so stratified and low-discrepancy sequences stay balanced over the
// choices; the value is the index (0-based). Only the `schedule` factor of course runs is a
// choice (docs/sensitivity.md, "Schedules as a factor").
struct Distribution {
    // A constructor (not an aggregate) so that {kind, a, b[, lower, upper]} needs no `choices`.
    Distribution(DistributionKind kind_ = DistributionKind::uniform, double a_ = 0.0, double b_ = 1.0,
                 double lower_ = -std::numeric_limits<double>::infinity(),
                 double upper_ = std::numeric_limits<double>::infinity())
        : kind(kind_), a(a_), b(b_), lower(lower_), upper(upper_) {}
    DistributionKind kind = DistributionKind::uniform;
    double a = 0.0, b = 1.0;
    double lower = -std::numeric_limits<double>::infinity();
    double upper = std::numeric_limits<double>::infinity();
    std::vector<std::string> choices;   // choice only
    // InputError naming `where`, the field, its value and the rule.
    void validate(const std::string& where) const;
    // Inverse CDF at u in [0, 1]. u = 0 or 1 on an unbounded side is an InputError (an infinite
    // value): Sobol designs skip their origin point by default for that reason.
    double quantile(double u) const;
};

// A factor of a design: a name and a distribution. A name is a model parameter (file unit),
// "weight" (kg), "age" (years) or "dose" (total mg of the regimen; every event scaled by the
// same factor), as for sweeps (include/ketasim/sweep.hpp).
struct Factor {
    std::string name;
    Distribution distribution;
};

// "schedule=CHOICE(NAME, NAME, ...)": the schedules of a course design (names of the schedule
// library, checked there; a name may not repeat); CHOICE is refused for any other factor and any
// other kind for `schedule`.
// "NAME=KIND(ARGS)", e.g. "ka_n=uniform(1, 5)", "Qh=lognormal(median=151 L/h, cv=30%)",
// "weight=normal(mean=70 kg, sd=15 kg, lower=40 kg, upper=150 kg)", "dose=loguniform(14 mg, 84 mg)".
// Arguments by position (uniform/loguniform: lower, upper; normal: mean, sd; lognormal: median,
// cv) or by name, then optional lower=, upper= (truncation). A bare number is in the factor's
// unit; a number with a unit is converted to it (needs `model` for a parameter's unit); cv may be
// "30%" or 0.3. Without a model only bare numbers are accepted. `where` ("--factor", "factors['cl']")
// starts every message.
Factor parse_factor(const std::string& text, const std::string& where, const Model* model = nullptr);
// The same with the name given apart (Python: factors={"cl": "lognormal(...)"}).
Factor parse_factor(const std::string& name, const std::string& distribution, const std::string& where,
                    const Model* model);
// The unit of a factor's values: the parameter's file unit, kg, years or mg.
std::string factor_unit(const std::string& name, const Model* model);

// Standard normal CDF and its inverse (Acklam's rational approximation refined by one Halley
// step on erfc: relative error below 1e-15 on (0, 1)).
double normal_cdf(double x);
double normal_quantile(double p);

// ---- unit-cube sequences ------------------------------------------------------------------------

// Largest dimension count of the embedded direction numbers (Joe-Kuo new-joe-kuo-6.21201).
constexpr std::size_t kSobolMaxDimensions = 64;

// Sobol' points in [0, 1)^d, 32-bit, in Gray-code order (as Joe & Kuo's generator and
// scipy.stats.qmc.Sobol(scramble=False)): point i = XOR of the direction numbers of the set bits
// of i ^ (i >> 1), computed from i alone. Point 0 is the origin. With `shift` a random digital
// shift (XOR with a 32-bit key per dimension, from a seeded RandomStream) keeps the net property
// and moves every point off the faces of the cube.
class SobolSequence {
public:
    explicit SobolSequence(std::size_t dimensions, bool shift = false, std::uint64_t seed = 0);
    std::size_t dimensions() const { return d_; }
    // Point i (< 2^32) into out[0 .. d).
    void point(std::uint64_t i, double* out) const;

private:
    std::size_t d_;
    std::vector<std::uint32_t> v_;   // d x 32 direction numbers
    std::vector<std::uint32_t> shift_;
};

// ---- design sources ----------------------------------------------------------------------------

// Point i of a design: one value per factor (names(), in each factor's unit), from i alone.
// Thread-safe; the run layer and the HPC run files address designs only through this interface.
class DesignSource {
public:
    virtual ~DesignSource() = default;
    virtual std::size_t size() const = 0;
    const std::vector<std::string>& names() const { return names_; }
    std::size_t dimensions() const { return names_.size(); }
    // values[0 .. dimensions()) of point i; InputError when i >= size().
    virtual void point(std::size_t i, double* values) const = 0;

protected:
    std::vector<std::string> names_;
    void check_index(std::size_t i) const;
};

// The full grid of the levels: point i is the mixed-radix decode of i with the LAST factor varying
// fastest (itertools.product order). size() is the product of the level counts (InputError beyond
// 2^63 points); nothing but the levels is stored.
class GridDesign : public DesignSource {
public:
    GridDesign(std::vector<std::string> names, std::vector<std::vector<double>> levels);
    std::size_t size() const override { return size_; }
    void point(std::size_t i, double* values) const override;
    const std::vector<std::vector<double>>& levels() const { return levels_; }

private:
    std::vector<std::vector<double>> levels_;
    std::size_t size_ = 1;
};

// A Latin hypercube of n points: in every dimension j each of the n strata [k/n, (k+1)/n) holds
// exactly one point. Point i lies in stratum pi_j(i), pi_j a pseudo-random permutation of [0, n)
// (a keyed Feistel network with cycle walking, evaluated per index), jittered uniformly inside
// it by RandomStream(seed, 0, i, j, design); then mapped through the factor's inverse CDF.
class LatinHypercubeDesign : public DesignSource {
public:
    LatinHypercubeDesign(std::vector<Factor> factors, std::size_t n, std::uint64_t seed);
    std::size_t size() const override { return n_; }
    void point(std::size_t i, double* values) const override;
    // The unit-cube point (before the inverse CDFs).
    void unit_point(std::size_t i, double* u) const;

private:
    std::vector<Factor> factors_;
    std::size_t n_;
    std::uint64_t seed_;
    int half_bits_;
};

// n Sobol' points starting at sequence index `skip` (default 1: the origin maps to -inf under an
// unbounded distribution), each factor through its inverse CDF; optional digital shift.
class SobolDesign : public DesignSource {
public:
    SobolDesign(std::vector<Factor> factors, std::size_t n, std::size_t skip = 1, bool shift = false,
                std::uint64_t seed = 0);
    std::size_t size() const override { return n_; }
    void point(std::size_t i, double* values) const override;

private:
    std::vector<Factor> factors_;
    SobolSequence seq_;
    std::size_t n_, skip_;
};

}   // namespace ketasim
