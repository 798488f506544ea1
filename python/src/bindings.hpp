#pragma once
// The one shared pybind11 include of the bindings, so every translation unit sees the same
// type casters (stl, numpy, functional).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

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

void bind_model(py::module_& m);
void bind_regimen(py::module_& m);
void bind_simulate(py::module_& m);
void bind_metrics(py::module_& m);
void bind_sweep(py::module_& m);
void bind_io(py::module_& m);
void bind_pd(py::module_& m);
void bind_population(py::module_& m);
void bind_run(py::module_& m);
