// Hash-seeded random streams: SplitMix64 (Steele, Lea & Flood 2014) mixes the key into the state
// of xoshiro256** (Blackman & Vigna 2018), the seeding its authors recommend. Box-Muller normals.
#include <cmath>

#include "ketasim/population.hpp"

namespace ketasim {

namespace {

inline std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr double kTwoPi = 6.283185307179586476925286766559;

}   // namespace

RandomStream::RandomStream(std::uint64_t seed, std::uint64_t replicate, std::uint64_t subject, std::uint64_t occasion,
                           StreamKind kind) {
    // Each key component goes through the mixer in turn, so (seed, subject) = (1, 2) and (2, 1)
    // give unrelated streams.
    std::uint64_t h = 0x6b6574617369ULL;   // "ketasi"
    for (std::uint64_t part : {seed, replicate, subject, occasion, static_cast<std::uint64_t>(kind)}) {
        std::uint64_t x = h ^ part;
        h = splitmix64(x);
    }
    std::uint64_t x = h;
    for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t RandomStream::next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double RandomStream::uniform() {
    // 53 bits, shifted by half a step: strictly inside (0, 1), so log(u) is finite.
    return (static_cast<double>(next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double RandomStream::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double a = kTwoPi * uniform();
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
}

}   // namespace ketasim
