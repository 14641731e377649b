package android.database;

/** Stub cursor: a count of rows is all the demo needs. (An interface on a device.) */
public class Cursor {
    private final int rows;
    public Cursor(int rows) { this.rows = rows; }
    public int getCount() { return rows; }
    public String toString() { return "Cursor(rows=" + rows + ")"; }
}
