// ketasim._core: private compiled module; the public API is the pure-Python package `ketasim`.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "ketasim compiled core (private; use the `ketasim` package)";
    m.attr("__version__") = KETASIM_PY_VERSION;

    // Typed C++ errors become Python exceptions with the same message. InputError subclasses
    // ValueError and SolverError/IoError subclass RuntimeError, so `except ValueError` works.
    // InputError's structured fields become attributes (file, line, key, value, rule, index;
    // None when absent), so callers need not parse the message.
    // Leaked on purpose: a static py::object would be destroyed after the interpreter.
    static auto* input_error = new py::exception<ketasim::InputError>(m, "InputError", PyExc_ValueError);
    // Class-level defaults, so an InputError raised in Python (no C++ context) has them too.
    for (const char* field : {"file", "line", "key", "value", "rule", "index"}) input_error->attr(field) = py::none();
    py::register_exception<ketasim::SolverError>(m, "SolverError", PyExc_RuntimeError);
    py::register_exception<ketasim::IoError>(m, "IoError", PyExc_RuntimeError);
    // A cancelled sweep (Ctrl-C or a callback returning False) is a KeyboardInterrupt.
    py::register_exception_translator([](std::exception_ptr p) {   // NOLINT: uses input_error
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ketasim::SweepCancelled& e) {
            py::set_error(PyExc_KeyboardInterrupt, e.what());
        } catch (const ketasim::RunCancelled& e) {
            py::set_error(PyExc_KeyboardInterrupt, e.what());
        } catch (const ketasim::InputError& e) {
            const ketasim::ErrorContext& c = e.context();
            py::object exc = py::reinterpret_borrow<py::object>(input_error->ptr())(py::str(e.what()));
            auto opt = [](const std::string& s) -> py::object {
                return s.empty() ? py::object(py::none()) : py::object(py::str(s));
            };
            exc.attr("file") = opt(c.file);
            exc.attr("line") = c.line > 0 ? py::object(py::int_(c.line)) : py::none();
            exc.attr("key") = opt(c.key);
            exc.attr("value") = opt(c.value);
            exc.attr("rule") = opt(c.rule);
            exc.attr("index") = c.index >= 0 ? py::object(py::int_(c.index)) : py::none();
            PyErr_SetObject(input_error->ptr(), exc.ptr());
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
    bind_sensitivity(m);
    bind_run(m);
}
