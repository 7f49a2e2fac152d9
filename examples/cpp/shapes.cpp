// Shapes with virtual dispatch, templates, lambdas, exceptions and switch fall-through.
#include <algorithm>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace geometry {

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

class Rect : public Shape {
public:
    Rect(double w, double h) : w_(w), h_(h) {
        if (w <= 0 || h <= 0) {
            throw std::invalid_argument("non-positive side");
        }
    }
    double area() const override { return w_ * h_; }
    std::string name() const override { return "rect"; }

private:
    double w_, h_;
};

class Circle : public Shape {
public:
    explicit Circle(double r) : r_(r) {}
    double area() const override { return 3.14159265 * r_ * r_; }
    std::string name() const override { return "circle"; }

private:
    double r_;
};

template <typename T, typename Pred>
std::size_t count_if_all(const std::vector<T> &items, Pred pred) {
    std::size_t n = 0;
    for (const auto &item : items) {
        if (!item) continue;
        if (pred(*item)) ++n;
    }
    return n;
}

}  // namespace geometry

int corners(int kind) {
    int total = 0;
    switch (kind) {
    case 2:
        total += 1;
        [[fallthrough]];
    case 1:
        total += 3;
        break;
    default:
        total = -1;
    }
    return total;
}

int main() {
    using namespace geometry;
    std::vector<std::unique_ptr<Shape>> shapes;
    const double sides[][2] = {{2, 3}, {-1, 4}, {1, 1}};
    for (const auto &side : sides) {
        try {
            shapes.push_back(std::make_unique<Rect>(side[0], side[1]));
        } catch (const std::invalid_argument &e) {
            std::cerr << "skipped: " << e.what() << '\n';
            continue;
        }
    }
    shapes.push_back(std::make_unique<Circle>(1.5));
    double threshold = 2.0;
    auto big = [threshold](const Shape &s) { return s.area() > threshold; };
    std::cout << count_if_all(shapes, big) << " big shapes, corners " << corners(2) << '\n';
    auto largest = std::max_element(shapes.begin(), shapes.end(),
                                    [](const auto &a, const auto &b) { return a->area() < b->area(); });
    std::cout << (*largest)->name() << '\n';
    return 0;
}
