// Designs (factor distributions, Sobol' and Latin hypercube points) and Sobol' sensitivity indices
// of a PK metric, run with the GIL released (PyProgress services Ctrl-C and the callback).
#include "bindings.hpp"

namespace {
using namespace ketasim;

py::array_t<double> matrix(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
    py::array_t<double> a({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::array_t<double> points(const DesignSource& d) {
    const std::size_t n = d.size(), k = d.dimensions();
    py::array_t<double> a({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    double* p = a.mutable_data();
    {
        py::gil_scoped_release release;
        for (std::size_t i = 0; i < n; ++i) d.point(i, p + i * k);
    }
    return a;
}

}   // namespace

void bind_sensitivity(py::module_& m) {
    py::class_<Factor>(m, "Factor")
        .def_readonly("name", &Factor::name)
        .def_property_readonly("kind", [](const Factor& f) { return to_string(f.distribution.kind); })
        .def_property_readonly("a", [](const Factor& f) { return f.distribution.a; })
        .def_property_readonly("b", [](const Factor& f) { return f.distribution.b; })
        .def_property_readonly("lower", [](const Factor& f) { return f.distribution.lower; })
        .def_property_readonly("upper", [](const Factor& f) { return f.distribution.upper; })
        .def(
            "quantile", [](const Factor& f, double u) { return f.distribution.quantile(u); }, py::arg("u"));

    m.def(
        "parse_factor",
        [](const std::string& name, const std::string& text, const std::string& where, const Model* model) {
            return parse_factor(name, text, where, model);
        },
        py::arg("name"), py::arg("text"), py::arg("where"), py::arg("model") = nullptr);
    m.def("factor_unit", &factor_unit, py::arg("name"), py::arg("model") = nullptr);

    m.def(
        "sobol_points",
        [](std::size_t dimensions, std::size_t n, std::size_t skip, bool shift, std::uint64_t seed) {
            const SobolSequence s(dimensions, shift, seed);
            py::array_t<double> a({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(dimensions)});
            double* p = a.mutable_data();
            for (std::size_t i = 0; i < n; ++i) s.point(i + skip, p + i * dimensions);
            return a;
        },
        py::arg("dimensions"), py::arg("n"), py::arg("skip") = 0, py::arg("shift") = false, py::arg("seed") = 0);
    m.def(
        "latin_hypercube_points",
        [](std::vector<Factor> factors, std::size_t n, std::uint64_t seed) {
            return points(LatinHypercubeDesign(std::move(factors), n, seed));
        },
        py::arg("factors"), py::arg("n"), py::arg("seed"));
    m.def(
        "sobol_design_points",
        [](std::vector<Factor> factors, std::size_t n, std::size_t skip, bool shift, std::uint64_t seed) {
            return points(SobolDesign(std::move(factors), n, skip, shift, seed));
        },
        py::arg("factors"), py::arg("n"), py::arg("skip") = 1, py::arg("shift") = false, py::arg("seed") = 0);

    m.def(
        "pk_sensitivity",
        [](const Model& model, const Regimen& regimen, const OutputGrid& grid, const SimOptions& sim,
           const std::vector<Factor>& factors, const Subject& base, const std::string& output,
           const std::string& metric, const MetricOptions& metric_options, std::size_t n, std::uint64_t seed,
           std::size_t bootstrap, double confidence, bool scramble, std::size_t skip, int threads,
           py::object progress) {
            PkSensitivitySpec spec;
            spec.base = base;
            spec.output = output;
            spec.metric = metric;
            spec.metric_options = metric_options;
            SensitivityOptions o;
            o.n = n;
            o.seed = seed;
            o.bootstrap = bootstrap;
            o.confidence = confidence;
            o.scramble = scramble;
            o.skip = skip;
            o.parallel.threads = threads;
            PyProgress hook(std::move(progress));
            o.parallel.progress = hook.hook();
            const SobolIndices r =
                hook.run([&] { return pk_sensitivity(model, regimen, grid, sim, factors, spec, o); });
            const std::size_t d = r.names.size();
            py::dict out;
            out["names"] = r.names;
            out["S1"] = r.S1;
            out["S1_conf"] = r.S1_conf;
            out["ST"] = r.ST;
            out["ST_conf"] = r.ST_conf;
            out["mean"] = r.mean;
            out["variance"] = r.variance;
            out["n"] = r.n;
            out["evaluations"] = r.evaluations;
            out["A"] = matrix(r.A, r.n, d);
            out["B"] = matrix(r.B, r.n, d);
            out["yA"] = matrix(r.yA, r.n, 1);
            out["yB"] = matrix(r.yB, r.n, 1);
            out["yAB"] = matrix(r.yAB, r.n, d);
            return out;
        },
        py::arg("model"), py::arg("regimen"), py::arg("grid"), py::arg("options"), py::arg("factors"), py::arg("base"),
        py::arg("output"), py::arg("metric"), py::arg("metric_options"), py::arg("n"), py::arg("seed"),
        py::arg("bootstrap"), py::arg("confidence"), py::arg("scramble"), py::arg("skip"), py::arg("threads"),
        py::arg("progress") = py::none());
}
