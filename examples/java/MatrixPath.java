import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.IntBinaryOperator;

/** Grid path search and matrix folds: labeled loops, lambdas, nested classes, records. */
public class MatrixPath {
    record Cell(int row, int col) {}

    private final int[][] grid;

    MatrixPath(int[][] grid) {
        this.grid = grid;
    }

    Cell findFirst(int target) {
        Cell found = null;
        search:
        for (int r = 0; r < grid.length; r++) {
            for (int c = 0; c < grid[r].length; c++) {
                if (grid[r][c] < 0) {
                    continue search;
                }
                if (grid[r][c] == target) {
                    found = new Cell(r, c);
                    break search;
                }
            }
        }
        return found;
    }

    int reachable(Cell start) {
        boolean[][] seen = new boolean[grid.length][grid[0].length];
        Deque<Cell> stack = new ArrayDeque<>();
        stack.push(start);
        int count = 0;
        while (!stack.isEmpty()) {
            Cell cell = stack.pop();
            int r = cell.row(), c = cell.col();
            if (r < 0 || c < 0 || r >= grid.length || c >= grid[r].length) continue;
            if (seen[r][c] || grid[r][c] == 0) continue;
            seen[r][c] = true;
            count++;
            stack.push(new Cell(r + 1, c));
            stack.push(new Cell(r - 1, c));
            stack.push(new Cell(r, c + 1));
            stack.push(new Cell(r, c - 1));
        }
        return count;
    }

    int fold(IntBinaryOperator op, int initial) {
        int acc = initial;
        int r = 0;
        do {
            for (int value : grid[r]) {
                acc = op.applyAsInt(acc, value);
            }
            r++;
        } while (r < grid.length);
        return acc;
    }

    public static void main(String[] args) {
        MatrixPath m = new MatrixPath(new int[][] {{1, 2, 0}, {0, 3, 4}, {-1, 5, 6}});
        Cell five = m.findFirst(5);
        String where = five == null ? "missing" : five.row() + "," + five.col();
        System.out.println(where + " reach=" + m.reachable(new Cell(0, 0)));
        System.out.println(m.fold(Integer::sum, 0) + " " + m.fold((a, b) -> Math.max(a, b), Integer.MIN_VALUE));
    }
}
