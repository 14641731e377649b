package com.example.demo;

import android.app.Activity;

public class MainActivity extends Activity {
    protected void onResume() { System.out.println("[demo] MainActivity resumed"); }
    protected void onPause() { System.out.println("[demo] MainActivity paused"); }
}
