#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/toml_util.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace fs = std::filesystem;

std::string version() { return KETASIM_VERSION; }

namespace {

// The file holding the code that is running: the program for the CLI and for anything that links
// the static library, _core.so for the Python module. Empty if the platform cannot say.
fs::path running_binary() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&default_models_dir), &info) != 0 && info.dli_fname && *info.dli_fname) {
        std::error_code ec;
        fs::path p = fs::canonical(info.dli_fname, ec);
        if (!ec) return p;
    }
    return {};
}

bool is_within(const fs::path& file, const fs::path& dir) {
    std::error_code ec;
    const fs::path d = fs::weakly_canonical(dir, ec);
    if (ec || d.empty()) return false;
    const auto [end, _] = std::mismatch(d.begin(), d.end(), file.begin(), file.end());
    return end == d.end();
}

bool has_index(const fs::path& dir) {
    std::error_code ec;
    return fs::is_regular_file(dir / "index.toml", ec);
}

}   // namespace

std::string default_models_dir() {
    if (const char* env = std::getenv("KETASIM_MODELS_DIR"); env && *env) {
        if (!has_index(env))
            throw InputError(std::string("KETASIM_MODELS_DIR=") + env +
                             ": no index.toml there (the model library directory holds index.toml)");
        return env;
    }
    // In order: an installed program (<bindir>/../share/ketasim/models); the Python module
    // (<package>/_core.so next to <package>/models); the installed data directory (a program linking
    // the installed library); the source tree, only for code running from the build tree it was built
    // in, so an installed or moved copy never reads models from where it was built.
    std::vector<fs::path> candidates;
    const fs::path bin = running_binary();
    if (!bin.empty()) {
        candidates.push_back((bin.parent_path() / KETASIM_BIN_TO_MODELS_DIR).lexically_normal());
        candidates.push_back(bin.parent_path() / "models");
    }
    candidates.emplace_back(KETASIM_INSTALL_MODELS_DIR);
    if (!bin.empty() && is_within(bin, KETASIM_BINARY_DIR)) candidates.emplace_back(KETASIM_SOURCE_MODELS_DIR);
    std::string looked;
    for (const fs::path& c : candidates) {
        if (has_index(c)) return c.string();
        looked += (looked.empty() ? "" : ", ") + c.string();
    }
    throw InputError("model library not found: no index.toml in $KETASIM_MODELS_DIR (unset), " + looked +
                     "; set KETASIM_MODELS_DIR or pass --models-dir (Python: models_dir= or ks.set_models_dir)");
}

std::vector<LibraryEntry> list_models(const std::string& models_dir) {
    using namespace detail;
    const std::string dir = models_dir.empty() ? default_models_dir() : models_dir;
    const std::string file = (fs::path(dir) / "index.toml").string();
    std::ifstream in(file);
    if (!in) throw InputError(file + ": cannot open the model library index (set KETASIM_MODELS_DIR or --models-dir)");
    std::ostringstream ss;
    ss << in.rdbuf();
    const toml::table root = parse_toml(ss.str(), file);
    check_keys(root, {"model"}, file, "");
    std::vector<LibraryEntry> out;
    const toml::node* n = root.get("model");
    if (!n || !n->as_array()) throw InputError(file + ": expected [[model]] entries");
    const toml::array& a = *n->as_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string path = "model[" + std::to_string(i) + "]";
        const toml::table* t = a[i].as_table();
        if (!t) throw InputError(at_line(file, a[i]) + ": " + path + " must be a table");
        check_keys(*t, {"name", "file", "title", "route", "analyte", "default", "notes"}, file, path);
        LibraryEntry e;
        e.name = get_string(*t, "name", file, path, true);
        e.file = get_string(*t, "file", file, path, true);
        e.title = get_string(*t, "title", file, path, false);
        e.route = get_string(*t, "route", file, path, false);
        e.analyte = get_string(*t, "analyte", file, path, false);
        e.is_default = get_bool(*t, "default", file, path, false);
        e.notes = get_string(*t, "notes", file, path, false);
        out.push_back(e);
    }
    return out;
}

std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir) {
    if (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".toml") {
        if (!fs::exists(name_or_path)) throw InputError(name_or_path + ": model file does not exist");
        return name_or_path;
    }
    const std::string dir = models_dir.empty() ? default_models_dir() : models_dir;
    std::string names;
    for (const auto& e : list_models(dir)) {
        if (e.name == name_or_path) return (fs::path(dir) / e.file).string();
        names += (names.empty() ? "" : ", ") + e.name;
    }
    throw InputError("model '" + name_or_path + "' is neither a .toml file nor in the library (" + names + ")");
}

Model load_library_model(const std::string& name_or_path, const std::string& models_dir) {
    return load_model(resolve_model_path(name_or_path, models_dir));
}

}   // namespace ketasim
