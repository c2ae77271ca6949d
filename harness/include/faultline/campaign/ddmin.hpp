// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
// Failure-Inducing Input", 2002): from a set of items that together make a
// test fail, a 1-minimal subset that still does (removing any one of its
// items makes the failure go). Generic over the items and the test; the
// sweep and `faultline explore` shrink schedules of events with it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace faultline {

// The subset of `failing` for which fails() holds and that no single item
// can be taken out of, in the items' original order. failing must make
// fails() hold; that is not tested again. fails() is called only on
// non-empty proper subsets, each at most once per round; n starts at 2 and
// grows to the subset's size when no part or complement of n parts fails.
template <typename T, typename Fails>
std::vector<T> ddmin(std::vector<T> failing, Fails&& fails) {
    size_t n = 2;
    while (failing.size() >= 2) {
        auto part = [&](size_t i) {
            return std::vector<T>(failing.begin() + long(i * failing.size() / n),
                                  failing.begin() + long((i + 1) * failing.size() / n));
        };
        auto complement = [&](size_t i) {
            std::vector<T> rest(failing.begin(), failing.begin() + long(i * failing.size() / n));
            rest.insert(rest.end(), failing.begin() + long((i + 1) * failing.size() / n),
                        failing.end());
            return rest;
        };
        bool reduced = false;
        for (size_t i = 0; i < n && !reduced; ++i) {
            if (std::vector<T> p = part(i); fails(p)) {
                failing = std::move(p);
                n = 2;
                reduced = true;
            }
        }
        // With two parts each complement is the other part, tested already.
        for (size_t i = 0; i < n && !reduced && n > 2; ++i) {
            if (std::vector<T> c = complement(i); fails(c)) {
                failing = std::move(c);
                n = std::max<size_t>(n - 1, 2);
                reduced = true;
            }
        }
        if (!reduced) {
            if (n >= failing.size()) {
                break;
            }
            n = std::min(2 * n, failing.size());
        }
    }
    return failing;
}

}  // namespace faultline
