#pragma once
// Files: model TOML, regimen TOML, NONMEM-style event tables (CSV), the model library index,
// and result writers (HDF5, CSV). Errors name the file, key (and line where known), value and rule.
#include <map>
#include <string>
#include <vector>

#include "ketasim/metrics.hpp"
#include "ketasim/model.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

Model load_model(const std::string& path);
Model parse_model(const std::string& toml_text, const std::string& source_name);

// Regimen TOML: [[dose]] entries (see docs/formats.md). Throws InputError.
Regimen load_regimen(const std::string& path);
Regimen parse_regimen(const std::string& toml_text, const std::string& source_name);

// NONMEM-style event table (CSV with header). Columns: ID, TIME, AMT, RATE or DUR, CMT, EVID,
// II, ADDL (ID/RATE/DUR/CMT/EVID/II/ADDL optional). Supported EVID: 0 (observation: its TIME is
// added to the requested output times), 1 (dose). EVID 2, 3, 4 are rejected with a message.
// CMT names a model compartment or route by name, or a 1-based compartment number.
// Times in hours, amounts in mg, RATE in mg/h, DUR in h, unless the header gives units as
// TIME[min], AMT[mg/kg], DUR[min]. Returns the doses of subject `id` (all if id < 0).
// Every column must be known: a misspelt AMT or RATE would otherwise be ignored (zero doses, or a
// bolus instead of an infusion). Known columns: ID, TIME, AMT, RATE, DUR, CMT, EVID, II, ADDL,
// DEVICE, SS, and DV and MDV (read and ignored: simulated, not fitted); an unknown column is an
// InputError naming the closest known one. `covariate_columns` (upper case) are the caller's
// covariate names (WT, AGE, ...): accepted and returned in `covariate_columns`; their values are
// for the caller to read (covariates are applied by the populations code, not here).
struct EventTable {
    Regimen regimen;
    std::vector<double> observation_times;        // h, EVID 0 rows
    std::vector<std::string> covariate_columns;   // the header's columns that are caller covariates
};
EventTable load_event_table(const std::string& path, const Model* model = nullptr, long id = -1,
                            const std::vector<std::string>& covariate_columns = {});

// A NONMEM-style dataset of several subjects, for populations (issue 8; docs/populations.md):
// every ID is its own subject with its own doses (EVID 1) and output times (EVID 0), in order of
// first appearance. Covariate columns: WT[kg], AGE[years], SEX, and the model's other covariates
// by name (case-insensitive), with units in brackets as in subject tables; constant within an ID.
// Whether the model uses them is checked by the population (an error naming the covariates the
// model uses); any other unknown column is an error naming the known ones. An ID without a dose
// is an error naming the ID and its first line.
struct DatasetSubject {
    long id = 0;
    Regimen regimen;
    std::vector<double> observation_times;   // h, sorted, distinct; empty: the caller's grid
};
struct Dataset {
    std::vector<DatasetSubject> subjects;
    std::vector<std::string> covariate_headers;   // subject-table headers: WT[kg], AGE[years], SEX, asian ...
    std::vector<double> covariates;               // subjects x covariate_headers, row-major
    std::string source;                           // the file, for messages
};
Dataset load_dataset(const std::string& path, const Model& model);
// The same from CSV text (a pandas DataFrame written with to_csv); `source_name` names it in messages.
Dataset parse_dataset(const std::string& csv_text, const std::string& source_name, const Model& model);

// The model library: models/index.toml.
struct LibraryEntry {
    std::string name, file, title, route, analyte;
    bool is_default = false;
    std::string notes;
};
// Directory holding index.toml: $KETASIM_MODELS_DIR if set (an error if it has no index.toml);
// else the first that has one of: <bindir>/../share/ketasim/models next to the running program,
// <dir>/models next to the running Python module, the installed <datadir>/ketasim/models, and the
// source tree's models/ for a program run from its build tree. None: InputError naming each place.
std::string default_models_dir();
std::vector<LibraryEntry> list_models(const std::string& models_dir = "");
// A library name ("ketamine_iv_clements") or a path to a .toml file.
std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir = "");
Model load_library_model(const std::string& name_or_path, const std::string& models_dir = "");

// One simulated arm: a model, a regimen and one or more subjects on the same time grid.
struct ResultArm {
    std::string name;
    const Model* model = nullptr;
    std::string regimen_text;                              // human-readable regimen description
    std::vector<Trajectory> subjects;                      // same times and outputs for all
    std::vector<Subject> subject_info;                     // same length as subjects (may be empty)
    std::vector<std::map<std::string, Metrics>> metrics;   // per subject, per output (optional)
    std::vector<double> at_times;                          // h: MetricOptions::at_times of Metrics::c_at (optional)
};

struct RunInfo {
    SimOptions options;
    unsigned long long seed = 0;
    std::string command;   // how the run was invoked
};

// HDF5 layout (docs/formats.md): one arm at the root, several under /arms/<name>. Written to
// "<path>.part" and renamed when complete; nothing is left behind on error.
void write_hdf5(const std::string& path, const std::vector<ResultArm>& arms, const RunInfo& info);
// CSV: one row per (arm, subject, time), a column per output with its unit in the header.
void write_csv(const std::string& path, const std::vector<ResultArm>& arms);
// Writes `text` to `path` through a temporary (path + ".part") renamed into place when complete:
// a failed write (e.g. a full disk) throws IoError and leaves neither a partial file nor the
// temporary. The directory must exist.
void write_text_atomically(const std::string& path, const std::string& text);
// Writes by extension (.h5/.hdf5 or .csv); throws InputError for anything else.
void write_results(const std::string& path, const std::vector<ResultArm>& arms, const RunInfo& info);

// A column table (one row per subject) as CSV, header NAME[unit]; NaN written as "nan" (a metric
// that is not defined for that subject), infinite values refused (SolverError, nothing written).
// Written to a unique temporary file and renamed into place.
void write_table_csv(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<std::string>& units, const std::vector<std::vector<double>>& columns);

std::string version();

}   // namespace ketasim
