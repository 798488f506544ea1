// Fuzzes the regimen-file reader: ketasim::parse_regimen on arbitrary text, then (when accepted)
// an exact simulation on esketamine_nasal (routes intranasal, oral, iv), whose output must be
// finite, non-negative and conserve mass. Seeds: tests/fuzz/corpus/regimen_toml.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ketasim;
    const std::string text(reinterpret_cast<const char*>(data), size);
    Regimen regimen;
    if (!ketasim_fuzz::guarded([&] { regimen = parse_regimen(text, "fuzz_regimen.toml"); })) return 0;
    // A regimen file may hold thousands of events; simulating them all only slows the fuzzer.
    if (regimen.events.size() > 200) return 0;
    const double t_end = regimen.last_time() + 24.0;
    const Model& model = ketasim_fuzz::library_model("esketamine_nasal");
    ketasim_fuzz::simulate_and_check(model, regimen, OutputGrid::at({0.0, t_end / 3, t_end}), SimOptions{}, Subject{},
                                     "parse_regimen + simulate");
    return 0;
}
