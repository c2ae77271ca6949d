#include "faultline/campaign/ddmin.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace faultline {
namespace {

// A test over sets of ints that fails when the set holds all of `cause`,
// counting its calls and refusing to be called on the empty set.
struct NeedsAll {
    std::set<int> cause;
    int calls = 0;
    bool operator()(const std::vector<int>& items) {
        ++calls;
        EXPECT_FALSE(items.empty());
        std::set<int> have(items.begin(), items.end());
        return std::includes(have.begin(), have.end(), cause.begin(), cause.end());
    }
};

TEST(Ddmin, OneCauseIsFoundByHalving) {
    // [1,2] passes, [3,4] fails, then [3] fails: three tests.
    NeedsAll test{{3}};
    EXPECT_EQ(ddmin(std::vector<int>{1, 2, 3, 4}, std::ref(test)), (std::vector<int>{3}));
    EXPECT_EQ(test.calls, 3);
}

TEST(Ddmin, TwoCausesAtTheEndsNeedTheComplements) {
    // Traced by hand: halves 2, quarters 4 + complements 2, thirds of six
    // 3 + 2, halves of four 2, quarters 4 + 2, thirds 3 + 2, halves 2.
    NeedsAll test{{1, 8}};
    EXPECT_EQ(ddmin(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}, std::ref(test)),
              (std::vector<int>{1, 8}));
    EXPECT_EQ(test.calls, 28);
}

TEST(Ddmin, EverythingFailingShrinksToTheFirstItem) {
    int calls = 0;
    auto always = [&](const std::vector<char>&) { return ++calls > 0; };
    EXPECT_EQ(ddmin(std::vector<char>{'a', 'b', 'c', 'd'}, always), (std::vector<char>{'a'}));
    EXPECT_EQ(calls, 2);  // [a,b], then [a]
}

TEST(Ddmin, TheResultKeepsTheItemsInOrder) {
    NeedsAll test{{2, 5, 9}};
    EXPECT_EQ(ddmin(std::vector<int>{9, 1, 5, 3, 2, 7}, std::ref(test)),
              (std::vector<int>{9, 5, 2}));
}

TEST(Ddmin, ASingleItemIsNotTestedAgain) {
    NeedsAll test{{4}};
    EXPECT_EQ(ddmin(std::vector<int>{4}, std::ref(test)), (std::vector<int>{4}));
    EXPECT_EQ(test.calls, 0);
}

TEST(Ddmin, EveryItemNeededGivesThemAllBack) {
    // 1-minimal already: halves 2, then singles 4 + complements 4.
    NeedsAll test{{1, 2, 3, 4}};
    EXPECT_EQ(ddmin(std::vector<int>{1, 2, 3, 4}, std::ref(test)),
              (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(test.calls, 10);
}

}  // namespace
}  // namespace faultline
