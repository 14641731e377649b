package android.accounts;

public class Account {
    public final String name;
    public final String type;
    public Account(String name, String type) { this.name = name; this.type = type; }
    public String toString() { return "Account {name=" + name + ", type=" + type + "}"; }
}
