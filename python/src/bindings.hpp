#pragma once
// The one shared pybind11 include of the bindings, so every translation unit sees the same
// type casters (stl, numpy, functional).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "ketasim/ketasim.hpp"

namespace py = pybind11;

// A read-only NumPy view of `n` doubles (or an n_rows x n_cols row-major block) owned by the
// C++ object behind `owner`; the array's base is `owner`, which keeps the data alive.
inline py::array readonly_view(const double* data, std::vector<py::ssize_t> shape, py::handle owner) {
    std::vector<py::ssize_t> strides(shape.size(), static_cast<py::ssize_t>(sizeof(double)));
    if (shape.size() == 2) strides[0] = shape[1] * static_cast<py::ssize_t>(sizeof(double));
    py::array a(py::dtype::of<double>(), shape, strides, data, owner);
    // Results are data: writing through a view would silently change the simulation record.
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return a;
}

// The progress hook of a long C++ run (ParallelOptions::progress, SweepOptions::progress), which
// C++ calls on the calling thread about every 50 ms while the run holds no GIL: it takes the GIL,
// checks for Ctrl-C (PyErr_CheckSignals) and calls the Python `callback(done, total)` (None =
// none; returning False cancels). A Python error (KeyboardInterrupt, or one raised by the
// callback) is kept and raised by run() once C++ has stopped, instead of the C++ cancellation.
class PyProgress {
public:
    explicit PyProgress(py::object callback) : callback_(std::move(callback)) {}
    PyProgress(const PyProgress&) = delete;
    PyProgress& operator=(const PyProgress&) = delete;

    std::function<bool(std::size_t, std::size_t)> hook() {
        return [this](std::size_t done, std::size_t total) { return report(done, total); };
    }

    // f() with the GIL released; a pending Python error is raised after it returns or stops.
    template <class F>
    auto run(F&& f) -> decltype(f()) {
        using R = decltype(f());
        try {
            if constexpr (std::is_void_v<R>) {
                {
                    py::gil_scoped_release release;
                    f();
                }
                raise_pending();
            } else {
                std::optional<R> result;
                {
                    py::gil_scoped_release release;
                    result.emplace(f());
                }
                raise_pending();   // Ctrl-C during the final report
                return std::move(*result);
            }
        } catch (const ketasim::RunCancelled&) {
            raise_pending();
            throw;
        }
    }

private:
    bool report(std::size_t done, std::size_t total) {
        py::gil_scoped_acquire gil;
        if (pending_) return false;
        if (PyErr_CheckSignals() != 0) {
            pending_.emplace();
            return false;
        }
        if (callback_.is_none()) return true;
        try {
            py::object r = callback_(done, total);
            return r.is_none() || r.cast<bool>();
        } catch (py::error_already_set& e) {
            pending_.emplace(std::move(e));
            return false;
        }
    }
    void raise_pending() {
        if (pending_) throw *pending_;
    }

    py::object callback_;
    std::optional<py::error_already_set> pending_;
};

void bind_model(py::module_& m);
void bind_regimen(py::module_& m);
void bind_simulate(py::module_& m);
void bind_metrics(py::module_& m);
void bind_sweep(py::module_& m);
void bind_io(py::module_& m);
void bind_pd(py::module_& m);
void bind_population(py::module_& m);
void bind_sensitivity(py::module_& m);
void bind_run(py::module_& m);
