package android.widget;

public class Button extends TextView {
    public Button(CharSequence text) { super(text); }
}
