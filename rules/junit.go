package rules

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes test reports as JUnit XML, one suite a rule-set version; the coverage requirement
// is a test case of its own so CI systems show a coverage gap as a failure.
func JUnit(reports []*TestReport) []byte {
	var all junitSuites
	for _, r := range reports {
		suite := junitSuite{Name: fmt.Sprintf("%s v%d", r.RuleSet, r.Version)}
		for _, t := range r.Results {
			c := junitCase{Name: t.Name, ClassName: suite.Name, File: r.File, Line: t.Line}
			if !t.Passed {
				c.Failure = &junitFailure{Message: t.Failures[0], Text: strings.Join(t.Failures, "\n")}
			}
			suite.Cases = append(suite.Cases, c)
		}
		cov := junitCase{Name: "coverage", ClassName: suite.Name, File: r.File}
		if !r.CoverageMet() {
			cov.Failure = &junitFailure{
				Message: fmt.Sprintf("coverage %.1f%% is below the required %.1f%%", r.Coverage.Percent(), r.Required),
				Text:    strings.Join(r.Coverage.Gaps(), "\n"),
			}
		}
		suite.Cases = append(suite.Cases, cov)
		for _, c := range suite.Cases {
			suite.Tests++
			if c.Failure != nil {
				suite.Failures++
			}
		}
		all.Tests += suite.Tests
		all.Failures += suite.Failures
		all.Suites = append(all.Suites, suite)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		// Every field is a string or number, so encoding cannot fail.
		panic(fmt.Sprintf("rules: unable to encode JUnit XML: %v", err))
	}
	b.WriteByte('\n')
	return b.Bytes()
}
