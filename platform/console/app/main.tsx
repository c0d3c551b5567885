import 'leaflet/dist/leaflet.css';
import './console.css';
import { render } from 'preact';
import { ConsoleState } from '../model/state.js';
import { App } from './app.js';
import { AlarmSound } from './sound.js';

// The operator console: one state, one alarm sound, the app.
const state = new ConsoleState();
const sound = new AlarmSound();
render(<App state={state} sound={sound} />, document.getElementById('console')!);
