// ketasim._core: private compiled module; the public API is the pure-Python package `ketasim`.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "ketasim compiled core (private; use the `ketasim` package)";
    m.attr("__version__") = KETASIM_PY_VERSION;

    // Typed C++ errors become Python exceptions with the same message. InputError subclasses
    // ValueError and SolverError/IoError subclass RuntimeError, so `except ValueError` works.
    py::register_exception<ketasim::InputError>(m, "InputError", PyExc_ValueError);
    py::register_exception<ketasim::SolverError>(m, "SolverError", PyExc_RuntimeError);
    py::register_exception<ketasim::IoError>(m, "IoError", PyExc_RuntimeError);
    // A cancelled sweep (Ctrl-C or a callback returning False) is a KeyboardInterrupt.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ketasim::SweepCancelled& e) {
            py::set_error(PyExc_KeyboardInterrupt, e.what());
        } catch (const ketasim::RunCancelled& e) {
            py::set_error(PyExc_KeyboardInterrupt, e.what());
        }
    });

    bind_model(m);
    bind_regimen(m);
    bind_simulate(m);
    bind_metrics(m);
    bind_sweep(m);
    bind_io(m);
    bind_pd(m);
    bind_population(m);
}
