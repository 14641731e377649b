package android.app;

/** Stub activity with the lifecycle callbacks the monitor watches for foreground/background. */
public class Activity {
    protected void onResume() { }
    protected void onPause() { }
    public void performResume() { onResume(); }
    public void performPause() { onPause(); }
}
