package android.view;

/** Stub of android.view.View: performClick calls the listener and returns whether one ran. */
public class View {
    public interface OnClickListener { void onClick(View view); }
    private OnClickListener listener;
    public void setOnClickListener(OnClickListener listener) { this.listener = listener; }
    public boolean performClick() {
        if (listener == null) return false;
        listener.onClick(this);
        return true;
    }
}
