// Fuzzes the model-file reader: ketasim::parse_model on arbitrary text, then (when it accepts the
// model) compile() and one exact simulation per route, whose output must be finite, non-negative
// and conserve mass. Seeds: tests/fuzz/corpus/model_toml (the library's model files).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ketasim;
    const std::string text(reinterpret_cast<const char*>(data), size);
    Model model;
    if (!ketasim_fuzz::guarded([&] { model = parse_model(text, "fuzz_model.toml"); })) return 0;
    for (const std::string& route : model.route_names()) {
        DoseEvent dose;
        dose.amount = 10.0;
        dose.route = route;
        Regimen regimen;
        regimen.add(dose);
        ketasim_fuzz::simulate_and_check(model, regimen, OutputGrid::at({0.0, 0.25, 1.0, 6.0, 48.0}), SimOptions{},
                                         Subject{}, "parse_model + simulate");
    }
    return 0;
}
