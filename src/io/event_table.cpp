// NONMEM-style event tables (CSV with a header), see docs/formats.md ("Event tables (CSV)").
// Every error names path:line, the column, the value and the rule.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/units.hpp"

namespace ketasim {

namespace {
using detail::fmt;
using detail::trim;

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

struct Column {
    int index = -1;
    std::string header;    // as written, for messages
    double factor = 1.0;   // file unit -> canonical (h, mg, mg/h)
    bool per_kg = false;
    UnitInfo unit;   // the header's unit (canonical when none)
    bool present() const { return index >= 0; }
    double to_canonical(double v) const { return unit.to_canonical(v); }
};

class TableReader {
public:
    explicit TableReader(std::string path) : path_(std::move(path)) {}

    [[noreturn]] void fail(int line, const std::string& col, const std::string& value, const std::string& rule) const {
        ErrorContext c;
        c.file = path_;
        c.line = line;
        c.key = col;
        c.value = value;
        c.rule = rule;
        throw InputError(path_ + ":" + std::to_string(line) + ": column " + col + ": value '" + value + "' " + rule, c);
    }

    // Splits one CSV line. Fields may be double-quoted (a comma inside, "" for a quote).
    std::vector<std::string> split(const std::string& text, int line) const {
        std::vector<std::string> out;
        std::size_t i = 0;
        while (true) {
            std::string field;
            while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
            if (i < text.size() && text[i] == '"') {
                ++i;
                bool closed = false;
                while (i < text.size()) {
                    if (text[i] == '"') {
                        if (i + 1 < text.size() && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                            continue;
                        }
                        closed = true;
                        ++i;
                        break;
                    }
                    field += text[i++];
                }
                if (!closed)
                    throw InputError(path_ + ":" + std::to_string(line) + ": field " + std::to_string(out.size() + 1) +
                                     ": value '\"" + field + "' has no closing quote");
                while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
                if (i < text.size() && text[i] != ',')
                    throw InputError(path_ + ":" + std::to_string(line) + ": field " + std::to_string(out.size() + 1) +
                                     ": value '\"" + field + "\"" + text.substr(i, text.find(',', i) - i) +
                                     "' has text after the closing quote");
            } else {
                const std::size_t end = std::min(text.find(',', i), text.size());
                field = trim(text.substr(i, end - i));
                i = end;
            }
            out.push_back(field);
            if (i >= text.size()) break;
            ++i;   // the comma
        }
        return out;
    }

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// "" and "." (NONMEM's missing value) count as absent.
bool missing(const std::string& s) { return s.empty() || s == "."; }

// The columns this reader understands; DV and MDV are read and ignored (a simulation has no
// observed values; MDV follows from EVID).
const std::vector<std::string>& known_columns() {
    static const std::vector<std::string> k = {"ID", "TIME", "AMT",    "RATE", "DUR", "CMT", "EVID",
                                               "II", "ADDL", "DEVICE", "SS",   "DV",  "MDV"};
    return k;
}

}   // namespace

namespace {

// One subject's rows while reading: its events (with their CSV lines), observations and the
// covariate values of its first row.
struct SubjectRows {
    double id = 0;
    int first_line = 0;
    EventTable table;
    std::vector<int> event_line;
    std::vector<double> covariates;
};

// Sorts a subject's events by time (NONMEM requires sorted rows; we sort) and its observation
// times, and validates its regimen, naming the CSV line of the offending event.
void finish_subject(const std::string& path, SubjectRows& sr) {
    EventTable& out = sr.table;
    std::vector<std::size_t> order(out.regimen.events.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return out.regimen.events[a].time < out.regimen.events[b].time;
    });
    Regimen sorted;
    std::vector<int> sorted_line;
    for (std::size_t k : order) {
        sorted.add(out.regimen.events[k]);
        sorted_line.push_back(sr.event_line[k]);
    }
    out.regimen = std::move(sorted);
    std::sort(out.observation_times.begin(), out.observation_times.end());
    out.observation_times.erase(std::unique(out.observation_times.begin(), out.observation_times.end()),
                                out.observation_times.end());

    try {
        out.regimen.validate();
    } catch (const InputError& err) {
        // validate() counts events ("dose[n]"); name the CSV line the event came from instead.
        ErrorContext c = err.context();
        const auto n = static_cast<long>(sorted_line.size());
        if (c.index < 0 || c.index >= n) throw InputError(path + ": " + err.what(), c);
        c.file = path;
        c.line = sorted_line[static_cast<std::size_t>(c.index)];
        std::string msg = path + ":" + std::to_string(c.line) + ": the dose on line " + std::to_string(c.line) +
                          (c.key.empty() ? "" : ": " + c.key) + ": " + (c.value.empty() ? "" : c.value + " ") + c.rule;
        if (c.other_index >= 0 && c.other_index < n)
            msg += " (the dose on line " + std::to_string(sorted_line[static_cast<std::size_t>(c.other_index)]) + ")";
        throw InputError(msg, c);
    }
}

// The reader. `all_ids`: every ID becomes its own subject (in order of first appearance), and
// covariate columns may carry a unit in brackets (WT[kg]), read by the subject-table rules;
// otherwise the rows of `id` (all rows if id < 0, an error for several IDs) make one subject.
std::vector<SubjectRows> read_event_table(const std::string& path, std::istream& in, const Model* model, long id,
                                          const std::vector<std::string>& covariate_columns, bool all_ids,
                                          std::vector<std::string>* covariate_headers) {
    const TableReader rd(path);

    std::vector<std::pair<int, std::string>> lines;
    {
        std::string text;
        int n = 0;
        while (std::getline(in, text)) {
            ++n;
            if (!text.empty() && text.back() == '\r') text.pop_back();
            if (n == 1 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);   // UTF-8 BOM
            const std::string t = trim(text);
            if (t.empty() || t[0] == '#') continue;
            lines.emplace_back(n, text);
        }
    }
    if (lines.empty()) throw InputError(path + ": no header line (expected e.g. 'ID,TIME,AMT,CMT,EVID')");

    // Header: NAME or NAME[unit], names case-insensitive.
    const int hline = lines.front().first;
    const std::vector<std::string> header = rd.split(lines.front().second, hline);
    std::map<std::string, Column> cols;
    std::vector<std::string> out_covariates;
    std::vector<Column> cov_cols;
    for (std::size_t i = 0; i < header.size(); ++i) {
        const std::string raw = header[i];
        std::string name = raw, unit;
        const auto lb = raw.find('[');
        if (lb != std::string::npos) {
            if (raw.back() != ']') rd.fail(hline, raw, raw, "has '[' without a closing ']' (write e.g. TIME[min])");
            name = trim(raw.substr(0, lb));
            unit = trim(raw.substr(lb + 1, raw.size() - lb - 2));
        }
        name = upper(name);
        if (name.empty()) rd.fail(hline, std::to_string(i + 1), raw, "is an empty column name in the header");
        if (cols.count(name)) rd.fail(hline, name, raw, "appears twice in the header");
        const auto& known = known_columns();
        const bool is_covariate =
            std::find(covariate_columns.begin(), covariate_columns.end(), name) != covariate_columns.end();
        if (std::find(known.begin(), known.end(), name) == known.end() && !is_covariate) {
            std::vector<std::string> all = known;
            all.insert(all.end(), covariate_columns.begin(), covariate_columns.end());
            const std::string near = closest_name(name, all);
            std::string list;
            for (const auto& k : all) list += (list.empty() ? "" : ", ") + k;
            rd.fail(hline, name, raw,
                    "is not a known column" + (near.empty() ? std::string() : " (did you mean " + near + "?)") +
                        "; columns are " + list + " (a misspelt column would be ignored, so it is an error)");
        }
        Column c;
        c.index = static_cast<int>(i);
        c.header = raw;
        if (is_covariate) {
            // Units of covariates (WT[kg], AGE[years]) are the subject table's to check.
            if (!unit.empty() && !all_ids) rd.fail(hline, name, raw, "takes no unit here");
            out_covariates.push_back(name);
            cov_cols.push_back(c);
            if (covariate_headers) covariate_headers->push_back(unit.empty() ? name : name + "[" + unit + "]");
            cols[name] = c;
            continue;
        }
        if (!unit.empty()) {
            Dimension dim = Dimension::dimensionless;
            if (name == "TIME" || name == "DUR" || name == "II")
                dim = Dimension::time;
            else if (name == "AMT")
                dim = Dimension::amount;
            else if (name != "RATE")
                rd.fail(hline, name, raw, "takes no unit (units are read for TIME, AMT, RATE, DUR and II only)");
            if (name == "RATE") {
                // amount/time: mg/h, mg/min, mg/kg/h, ug/min, ...
                const auto slash = unit.rfind('/');
                UnitInfo a, t;
                try {
                    if (slash == std::string::npos) throw InputError("no '/'");
                    a = parse_unit(unit.substr(0, slash));
                    t = parse_unit(unit.substr(slash + 1));
                } catch (const InputError&) {
                    rd.fail(hline, name, raw,
                            "has unit '" + unit + "'; expected amount/time such as mg/h, mg/min or mg/kg/h");
                }
                if (a.dimension != Dimension::amount || t.dimension != Dimension::time || t.per_kg)
                    rd.fail(hline, name, raw,
                            "has unit '" + unit + "'; expected amount/time such as mg/h, mg/min or mg/kg/h");
                c.factor = a.factor / t.factor;
                c.per_kg = a.per_kg;
                c.unit = UnitInfo{Dimension::amount, c.factor, c.per_kg};
            } else {
                UnitInfo u;
                const std::string accepted =
                    dim == Dimension::time ? "time (h, min, s, d)" : "amount (mg, g, ug, mg/kg)";
                try {
                    u = parse_unit(unit);
                } catch (const InputError&) {
                    rd.fail(hline, name, raw, "has an unknown unit '" + unit + "', expected " + accepted);
                }
                if (u.dimension != dim || (u.per_kg && dim != Dimension::amount))
                    rd.fail(hline, name, raw,
                            "has unit '" + unit + "' of dimension " + to_string(u.dimension) +
                                (u.per_kg ? " per kg" : "") + ", expected " + accepted);
                c.factor = u.factor;
                c.per_kg = u.per_kg;
                c.unit = u;
            }
        }
        cols[name] = c;
    }
    auto col = [&](const std::string& n) {
        auto it = cols.find(n);
        return it == cols.end() ? Column{} : it->second;
    };
    const Column cID = col("ID"), cTIME = col("TIME"), cAMT = col("AMT"), cRATE = col("RATE"), cDUR = col("DUR"),
                 cCMT = col("CMT"), cEVID = col("EVID"), cII = col("II"), cADDL = col("ADDL"), cDEVICE = col("DEVICE"),
                 cSS = col("SS");
    if (!cTIME.present()) {
        std::string have;
        for (const auto& h : header) have += (have.empty() ? "" : ",") + h;
        rd.fail(hline, "TIME", have,
                "has no TIME column (required; columns are ID, TIME, AMT, RATE, DUR, CMT, EVID, "
                "II, ADDL, SS, DEVICE)");
    }
    if (cRATE.present() && cRATE.per_kg != cAMT.per_kg)
        rd.fail(hline, "RATE", cRATE.header,
                std::string("is ") + (cRATE.per_kg ? "per kg" : "not per kg") + " but AMT" +
                    (cAMT.present() ? "[" + cAMT.header + "]" : "") + " is " + (cAMT.per_kg ? "per kg" : "in mg") +
                    "; give both per kg (AMT[mg/kg], RATE[mg/kg/h]) or neither");

    std::vector<SubjectRows> subjects;
    std::map<double, std::size_t> subject_of;   // ID -> index in `subjects` (all_ids)
    if (!all_ids) {
        subjects.emplace_back();
        subjects.back().table.covariate_columns = out_covariates;
    }
    bool id_seen = false;
    std::vector<double> ids_seen;   // the first two distinct IDs (several subjects?)
    for (std::size_t r = 1; r < lines.size(); ++r) {
        const int ln = lines[r].first;
        const std::vector<std::string> f = rd.split(lines[r].second, ln);
        if (f.size() != header.size())
            throw InputError(path + ":" + std::to_string(ln) + ": row has " + std::to_string(f.size()) +
                             " fields but the header has " + std::to_string(header.size()));
        auto text = [&](const Column& c) { return c.present() ? f[static_cast<std::size_t>(c.index)] : std::string(); };
        auto number = [&](const Column& c, const char* name) {
            const std::string s = text(c);
            const char* b = s.c_str();
            char* e = nullptr;
            const double v = std::strtod(b, &e);
            if (e == b || *e != '\0' || !std::isfinite(v)) rd.fail(ln, name, s, "is not a finite number");
            return v;
        };
        auto integer = [&](const Column& c, const char* name) {
            const double v = number(c, name);
            if (v != std::floor(v) || std::fabs(v) > 1e9) rd.fail(ln, name, text(c), "must be a whole number");
            return static_cast<long>(v);
        };
        auto has = [&](const Column& c) { return c.present() && !missing(text(c)); };

        // Rows of other subjects are checked too (a malformed file is reported whole), but not kept.
        bool keep = true;
        double row_id = 1;   // a file without an ID column is subject 1
        if (has(cID)) {
            const double v = number(cID, "ID");
            row_id = v;
            keep = all_ids || id < 0 || v == static_cast<double>(id);
            if (ids_seen.size() < 2 && std::find(ids_seen.begin(), ids_seen.end(), v) == ids_seen.end())
                ids_seen.push_back(v);
            if (all_ids && (v != std::floor(v) || std::fabs(v) > 1e15))
                rd.fail(ln, "ID", text(cID), "must be a whole number");
        } else if (cID.present()) {
            rd.fail(ln, "ID", text(cID), "is empty; every row needs a subject ID");
        }
        id_seen = id_seen || keep;
        SubjectRows* sr = all_ids ? nullptr : &subjects.front();
        if (all_ids) {
            auto it = subject_of.find(row_id);
            if (it == subject_of.end()) {
                it = subject_of.emplace(row_id, subjects.size()).first;
                subjects.emplace_back();
                subjects.back().id = row_id;
                subjects.back().first_line = ln;
                subjects.back().table.covariate_columns = out_covariates;
                for (const Column& c : cov_cols) {
                    if (!has(c)) rd.fail(ln, c.header, text(c), "is empty; a covariate needs a value on every row");
                    subjects.back().covariates.push_back(number(c, c.header.c_str()));
                }
            }
            sr = &subjects[it->second];
            // Covariates are per subject: a value that changes within an ID would be silently
            // replaced by the first one, so it is an error.
            for (std::size_t k = 0; k < cov_cols.size(); ++k) {
                const Column& c = cov_cols[k];
                if (!has(c)) rd.fail(ln, c.header, text(c), "is empty; a covariate needs a value on every row");
                const double v = number(c, c.header.c_str());
                if (v != sr->covariates[k])
                    rd.fail(ln, c.header, text(c),
                            "differs from " + fmt(sr->covariates[k]) + " on line " + std::to_string(sr->first_line) +
                                " of the same ID " + fmt(row_id) +
                                "; covariates are constant per subject (time-varying covariates are not supported)");
            }
        }

        if (!has(cTIME)) rd.fail(ln, "TIME", text(cTIME), "is empty; every row needs a TIME");
        const double time = cTIME.to_canonical(number(cTIME, "TIME"));
        if (time < 0) rd.fail(ln, "TIME", text(cTIME), "must be >= 0");
        const double amt_raw = has(cAMT) ? number(cAMT, "AMT") : 0.0;
        // SS=1 with II: steady state (DoseEvent::steady_state); SS=2 (add without reset) and SS=3 are not supported.
        const long ss = has(cSS) ? integer(cSS, "SS") : 0;
        if (ss != 0 && ss != 1)
            rd.fail(ln, "SS", text(cSS), "must be 0 or 1 (steady state with II); SS=2 and SS=3 are not supported");

        long evid = amt_raw > 0 ? 1 : 0;
        if (has(cEVID)) {
            evid = integer(cEVID, "EVID");
            if (evid == 2)
                rd.fail(ln, "EVID", text(cEVID),
                        "(other-type event) is not supported; use 0 (observation) or 1 (dose)");
            if (evid == 3)
                rd.fail(ln, "EVID", text(cEVID), "(reset) is not supported; use 0 (observation) or 1 (dose)");
            if (evid == 4)
                rd.fail(ln, "EVID", text(cEVID), "(reset and dose) is not supported; use 0 (observation) or 1 (dose)");
            if (evid != 0 && evid != 1) rd.fail(ln, "EVID", text(cEVID), "must be 0 (observation) or 1 (dose)");
        }
        if (evid == 0) {
            if (amt_raw != 0) rd.fail(ln, "AMT", text(cAMT), "on an observation row (EVID 0) must be 0 or empty");
            if (ss != 0) rd.fail(ln, "SS", text(cSS), "on an observation row (EVID 0) must be 0 or empty");
            if (keep) sr->table.observation_times.push_back(time);
            continue;
        }

        DoseEvent e;
        e.time = time;
        if (!has(cAMT)) rd.fail(ln, "AMT", text(cAMT), "is missing; a dose row (EVID 1) needs AMT > 0");
        if (!(amt_raw > 0)) rd.fail(ln, "AMT", text(cAMT), "must be > 0 on a dose row (EVID 1)");
        e.amount = cAMT.to_canonical(amt_raw);
        e.per_kg = cAMT.per_kg;

        const double rate_raw = has(cRATE) ? number(cRATE, "RATE") : 0.0;
        if (rate_raw == -1 || rate_raw == -2)
            rd.fail(ln, "RATE", text(cRATE),
                    std::string("(NONMEM modelled ") + (rate_raw == -1 ? "rate" : "duration") +
                        ") is not supported; give DUR or a positive RATE");
        if (rate_raw < 0) rd.fail(ln, "RATE", text(cRATE), "must be >= 0 (0 = bolus)");
        const double dur = has(cDUR) ? cDUR.to_canonical(number(cDUR, "DUR")) : 0.0;
        if (dur < 0) rd.fail(ln, "DUR", text(cDUR), "must be >= 0 (0 = bolus)");
        e.duration = dur;
        if (rate_raw > 0) {
            const double from_rate = e.amount / (rate_raw * cRATE.factor);
            // AMT/RATE is one division away from DUR when both were written from the same
            // numbers; 1e-9 relative allows that rounding and rejects any real disagreement.
            if (dur > 0 && std::fabs(from_rate - dur) > 1e-9 * dur)
                rd.fail(ln, "RATE", text(cRATE),
                        "gives AMT/RATE = " + fmt(from_rate) + " h but DUR is " + fmt(dur) +
                            " h; give one or make them agree");
            if (dur == 0) e.duration = from_rate;
        }

        // CMT: a route, a compartment name, or a 1-based compartment number.
        const std::string cmt = has(cCMT) ? text(cCMT) : std::string();
        if (cmt.empty()) {
            e.route = "iv";
            if (model && !model->has_route("iv"))
                rd.fail(ln, "CMT", cmt, "is empty and the model has no 'iv' route; name one of its routes");
        } else if (std::all_of(cmt.begin(), cmt.end(),
                               [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
            if (!model)
                rd.fail(ln, "CMT", cmt, "is a compartment number, which needs the model; give a route name instead");
            const long k = std::strtol(cmt.c_str(), nullptr, 10);
            const long n = static_cast<long>(model->compartments.size());
            if (k < 1 || k > n)
                rd.fail(ln, "CMT", cmt,
                        "is not a compartment number of model '" + model->name + "' (1 to " + std::to_string(n) + ")");
            e.compartment = model->compartments[static_cast<std::size_t>(k - 1)].name;
        } else if (!model || model->has_route(cmt)) {
            e.route = cmt;   // routes take precedence; a number addresses the compartment itself
        } else if (model->compartment_index(cmt) >= 0) {
            e.compartment = cmt;
        } else {
            std::string routes, comps;
            for (const auto& rn : model->route_names()) routes += (routes.empty() ? "" : ", ") + rn;
            for (const auto& c : model->compartments) comps += (comps.empty() ? "" : ", ") + c.name;
            rd.fail(
                ln, "CMT", cmt,
                "is neither a route (" + routes + ") nor a compartment (" + comps + ") of model '" + model->name + "'");
        }
        if (model && e.compartment.empty() && e.duration > 0 && model->route(e.route).kind != RouteKind::iv)
            rd.fail(ln, has(cDUR) && dur > 0 ? "DUR" : "RATE", has(cDUR) && dur > 0 ? text(cDUR) : text(cRATE),
                    "gives a duration to route '" + e.route +
                        "', which has its own absorption; only iv routes and compartment doses take one");

        if (has(cDEVICE)) {
            const long dv = integer(cDEVICE, "DEVICE");
            if (dv < 1 || dv > 1000) rd.fail(ln, "DEVICE", text(cDEVICE), "must be a device index >= 1");
            e.device = static_cast<int>(dv);
        }

        const long addl = has(cADDL) ? integer(cADDL, "ADDL") : 0;
        const double ii = has(cII) ? cII.to_canonical(number(cII, "II")) : 0.0;
        if (addl < 0 || addl > 100000) rd.fail(ln, "ADDL", text(cADDL), "must be between 0 and 100000");
        if (ii < 0) rd.fail(ln, "II", text(cII), "must be >= 0");
        if (addl > 0 && !(ii > 0)) rd.fail(ln, "II", text(cII), "must be > 0 when ADDL > 0");
        if (ss == 1) {
            if (!(ii > 0)) rd.fail(ln, "II", text(cII), "must be > 0 on a steady-state row (SS 1)");
            e.steady_state = true;   // the II/duration rules are Regimen::validate()'s
            e.interval = ii;
        } else if (addl == 0 && ii > 0) {
            rd.fail(ln, "II", text(cII),
                    "is given without ADDL or SS; give ADDL > 0 (repeated doses) or SS 1 (steady state)");
        }
        if (!keep) continue;
        sr->table.regimen.add_repeated(e, ii, static_cast<int>(addl));
        sr->event_line.resize(sr->table.regimen.events.size(), ln);
    }
    if (id >= 0 && cID.present() && !id_seen)
        throw InputError(path + ": column ID: no rows for ID " + std::to_string(id));
    // Regression (issue 8): a dataset of several subjects was run as one subject given every
    // subject's doses. A regimen is one subject's: several IDs need a choice.
    if (!all_ids && id < 0 && ids_seen.size() > 1)
        throw InputError(path + ": column ID: the file holds several subjects (IDs " + detail::fmt(ids_seen[0]) + ", " +
                         detail::fmt(ids_seen[1]) +
                         ", ...); a regimen is one subject's doses: choose one with --id N "
                         "(CLI) or id=N (Python), or run them all as a population (ketasim population MODEL --data "
                         "FILE, ks.population(model, data=FILE))");

    for (auto& sr : subjects) finish_subject(path, sr);
    return subjects;
}

}   // namespace

EventTable load_event_table(const std::string& path, const Model* model, long id,
                            const std::vector<std::string>& covariate_columns) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open file");
    return std::move(read_event_table(path, in, model, id, covariate_columns, false, nullptr).front().table);
}

namespace {
Dataset read_dataset(const std::string& path, std::istream& in, const Model& model) {
    // Covariate columns: the subject-table names of body weight, age and sex, and the model's own
    // covariates (upper case, as the reader compares names). Whether the model uses them is the
    // population's rule (require_covariates_used / PopulationSource), which names the covariates
    // the model does use.
    std::vector<std::string> cov = {"WT", "AGE", "SEX"};
    for (const auto& c : model.covariate_names()) {
        const std::string u = upper(c);
        if (u != "WEIGHT" && u != "AGE" && std::find(cov.begin(), cov.end(), u) == cov.end()) cov.push_back(u);
    }
    Dataset d;
    d.source = path;
    std::vector<SubjectRows> rows = read_event_table(path, in, &model, -1, cov, true, &d.covariate_headers);
    if (rows.empty()) throw InputError(path + ": no rows (expected one or more subjects' doses and observations)");
    // A covariate column names the model's covariate in its own spelling (asian, not ASIAN).
    for (auto& h : d.covariate_headers) {
        const std::string name = h.substr(0, h.find('['));
        for (const auto& c : model.covariate_names())
            if (upper(c) == name && name != "WT" && name != "AGE" && name != "SEX") h = c + h.substr(name.size());
    }
    for (auto& sr : rows) {
        // Regression (issue 8): an ID without a dose simulated nothing and reported zeros.
        if (sr.table.regimen.events.empty())
            throw InputError(
                ErrorContext{path, sr.first_line, "ID", fmt(sr.id),
                             "has no dose (no EVID 1 row with AMT > 0); every subject of a dataset needs one"});
        DatasetSubject s;
        s.id = static_cast<long>(sr.id);
        s.regimen = std::move(sr.table.regimen);
        s.observation_times = std::move(sr.table.observation_times);
        d.subjects.push_back(std::move(s));
        d.covariates.insert(d.covariates.end(), sr.covariates.begin(), sr.covariates.end());
    }
    return d;
}
}   // namespace

Dataset load_dataset(const std::string& path, const Model& model) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open file");
    return read_dataset(path, in, model);
}

Dataset parse_dataset(const std::string& csv_text, const std::string& source_name, const Model& model) {
    std::istringstream in(csv_text);
    return read_dataset(source_name, in, model);
}

}   // namespace ketasim
