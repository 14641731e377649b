package android.app;

public class Dialog {
    private final String title;
    private boolean showing;
    public Dialog(String title) { this.title = title; }
    public void show() { showing = true; }
    public void dismiss() { showing = false; }
    public boolean isShowing() { return showing; }
    public String toString() { return "Dialog{" + title + "}"; }
}
