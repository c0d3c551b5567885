import { test } from 'vitest';
import { parseSentence } from './nmea-parser.js';
test('x', () => {
  for (const l of ['$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A',
   '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47',
   '$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75',
   '$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39',
   '$GNRMC,,V,,,,,,,,,,N*4D', 'garbage$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48', '$PUBX,00*33']) console.log(JSON.stringify(parseSentence(l)));
});
