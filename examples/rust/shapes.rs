//! Shapes behind a trait object, with iterators, while-let, if-let and labeled loops.
pub trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> &'static str {
        "shape"
    }
}

pub struct Circle {
    pub radius: f64,
}

pub struct Rect {
    pub width: f64,
    pub height: f64,
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        std::f64::consts::PI * self.radius * self.radius
    }
    fn name(&self) -> &'static str {
        "circle"
    }
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.width * self.height
    }
}

pub fn build(specs: &[(char, f64, f64)]) -> Vec<Box<dyn Shape>> {
    let mut shapes: Vec<Box<dyn Shape>> = Vec::new();
    for &(kind, a, b) in specs {
        let shape: Box<dyn Shape> = match kind {
            'c' if a > 0.0 => Box::new(Circle { radius: a }),
            'r' | 's' => {
                let height = if kind == 's' { a } else { b };
                Box::new(Rect { width: a, height })
            }
            _ => continue,
        };
        shapes.push(shape);
    }
    shapes
}

pub fn first_pair_over(shapes: &[Box<dyn Shape>], limit: f64) -> Option<(usize, usize)> {
    let mut result = None;
    'outer: for (i, a) in shapes.iter().enumerate() {
        for (j, b) in shapes.iter().enumerate().skip(i + 1) {
            if a.area() + b.area() > limit {
                result = Some((i, j));
                break 'outer;
            }
        }
    }
    result
}

pub fn drain_largest(mut areas: Vec<f64>) -> f64 {
    areas.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let mut total = 0.0;
    let mut stack = areas;
    while let Some(area) = stack.pop() {
        if area < 1.0 {
            continue;
        }
        total += area;
    }
    if let Some(scale) = Some(2.0_f64).filter(|s| *s > 1.0) {
        total *= scale;
    }
    total
}
