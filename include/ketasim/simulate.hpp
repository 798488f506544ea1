#pragma once
// One simulation: Model + Regimen + OutputGrid + SimOptions -> Trajectory.
#include <Eigen/Dense>
#include <string>
#include <utility>
#include <vector>

#include "ketasim/model.hpp"
#include "ketasim/regimen.hpp"

namespace ketasim {

enum class SolverKind {
    exact,   // matrix-exponential propagator of the linear system (reference, fast path)
    ode      // Boost.Odeint with error control, restarted at every discontinuity
};
enum class OdeMethod {
    dopri5,       // Dormand-Prince 5(4), dense output (non-stiff default)
    rosenbrock4   // 4th-order Rosenbrock, for stiff systems (uses the exact Jacobian A)
};
const char* to_string(SolverKind s);
const char* to_string(OdeMethod m);
SolverKind solver_from_string(const std::string& s);
OdeMethod ode_method_from_string(const std::string& s);

// ODE tolerance bounds enforced by SimOptions::validate(). rtol above 1e-3 lets dopri5 accept
// steps with errors comparable to the solution (negative concentrations); below 1e-14 it asks
// for less than double rounding and the step size underflows.
constexpr double kMinRtol = 1e-14;
constexpr double kMaxRtol = 1e-3;
// atol applies to every state in that state's own unit: mg for compartment amounts and sinks,
// ng/mL for the effect site (Ce), so the same number is 1000x stricter or looser depending on the
// state (1 mg in 1 L is 1000 ng/mL). 1e-3 mg is 0.1 ng/mL even in a 10 L volume, so a larger atol
// would let the controller ignore concentrations of clinical interest (assay limits ~1 ng/mL).
constexpr double kMaxAtol = 1e-3;

struct SimOptions {
    SolverKind solver = SolverKind::exact;
    OdeMethod method = OdeMethod::dopri5;
    double rtol = 1e-8;                 // ODE relative tolerance, in [kMinRtol, kMaxRtol]
    double atol = 1e-10;                // ODE absolute tolerance, in (0, kMaxAtol], in each state's unit (above)
    long max_steps = 10'000'000;        // ODE steps per run before giving up
    bool include_event_times = false;   // add every dose/infusion start/stop to the output grid
    bool output_amounts = false;        // also output every state (A_<name>, mg)
    // Record only these model outputs, in this order (empty = all). The exact solver then also
    // propagates only the states they depend on, which is what makes metric-only sweeps cheap.
    std::vector<std::string> outputs;
    void validate() const;   // names the field, value and rule
};

struct OutputGrid {
    std::vector<double> times;   // h, sorted ascending, >= 0
    static OutputGrid uniform(double t_start, double t_end, double dt);
    static OutputGrid at(std::vector<double> times);
    void validate() const;
};

// Outputs x time, row-major, so each output is one contiguous row (zero-copy NumPy views).
using OutputMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Trajectory {
    std::vector<double> time;         // h
    std::vector<std::string> names;   // output names
    std::vector<std::string> units;   // per output
    OutputMatrix values;              // names.size() x time.size()
    double dose_total_mg = 0.0;       // everything the regimen gave (not doses a steady state drops)
    // The regimen's dose start times (h, sorted; without doses a steady-state dose drops) and Regimen::last_time()
    // (latest start or infusion end), filled by simulate(): metrics use it for the automatic terminal window, so
    // callers need not pass it by hand.
    std::vector<double> dose_times;
    double last_dose_time = 0.0;

    int index(const std::string& name) const;   // throws InputError if unknown
    bool has(const std::string& name) const;
    Eigen::Map<const Eigen::VectorXd> operator[](const std::string& name) const;
};

// Simulates the model for one subject. Output at a dose time is the value just after the dose.
Trajectory simulate(const Model& model, const Regimen& regimen, const OutputGrid& grid, const SimOptions& options = {},
                    const Subject& subject = {});

// Parameter overrides, the one parser of every face (CLI --set NAME=VALUE, Python set={NAME: VALUE}):
// "NAME=VALUE" in the parameter's file unit (as `ketasim show-model` lists it), or
// "NAME=VALUE UNIT" in any unit of the same dimension, converted to the file unit. The value must
// be finite; the name a parameter of `model` (InputError naming `where`, the text and the closest
// parameter names otherwise). Returns the name and the value in the file unit (Subject::parameters).
std::pair<std::string, double> parse_parameter_override(const Model& model, const std::string& text,
                                                        const std::string& where);
// The value part alone ("2", "2 1/h", "0.03 1/min") for parameter `name`.
double parse_parameter_override_value(const Model& model, const std::string& name, const std::string& value,
                                      const std::string& where);

// Lower-level entry: a compiled system (reused across calls with the same subject). mg/kg doses
// use the weight the system was compiled for (LinearSystem::weight_kg).
Trajectory simulate(const LinearSystem& system, const Regimen& regimen, const OutputGrid& grid,
                    const SimOptions& options = {});

}   // namespace ketasim
