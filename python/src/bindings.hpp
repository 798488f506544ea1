#pragma once
// The one shared pybind11 include of the bindings, so every translation unit sees the same
// type casters (stl, numpy, functional).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ketasim/ketasim.hpp"

namespace py = pybind11;

void bind_model(py::module_& m);
void bind_regimen(py::module_& m);
void bind_simulate(py::module_& m);
void bind_metrics(py::module_& m);
void bind_sweep(py::module_& m);
void bind_io(py::module_& m);
void bind_pd(py::module_& m);
